"""Token ids ``(T,)``: int64, right-padded, never normalized; shown as text and measured by token accuracy."""

import torch

from deepfeat.data.kinds.base import TEXT_TABLE, DataKind, add_kind

TOKENS = add_kind(DataKind(
    name="tokens", layout="(N, T)", description="token ids (T,) of a tokenized text, right-padded, never normalized",
    dtype=torch.int64, stats=None, view=TEXT_TABLE, measures=frozenset(), padded=True,
))
