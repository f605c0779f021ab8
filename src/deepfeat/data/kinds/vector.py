"""Vectors ``(F,)``: the rows of a table, standardized per feature and measured in that standardized space."""

from deepfeat.data.kinds.base import FEATURE_PLOT, DataKind, add_kind

VECTOR = add_kind(DataKind(
    name="vector", layout="(N, F)", description="table rows (F,): one mean/std per feature",
    stats="feature", view=FEATURE_PLOT, working_space="standardized", augment="table",
))
