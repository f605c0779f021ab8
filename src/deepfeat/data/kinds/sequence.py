"""Series ``(C, T)``: normalized per channel, drawn as lines, reconstructions measured with PSNR."""

from deepfeat.data.kinds.base import MSE, PSNR, SERIES_PLOT, DataKind, add_kind

SEQUENCE = add_kind(DataKind(
    name="sequence", layout="(N, C, T)", description="series (C, T): one mean/std per channel",
    augment="sequence", mild_augment={"name": "sequence"}, view=SERIES_PLOT, measures=frozenset({MSE, PSNR}),
    resizable=True,
))
