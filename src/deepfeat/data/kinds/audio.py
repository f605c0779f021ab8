"""Sound: waveforms ``(C, T)`` at ``DataInfo.reader["sample_rate"]`` Hz.

A series to the networks, but shown as spectrograms with playable clips, measured with SNR as well, and
augmented with speed, shift, gain and noise: the series crop-and-resize changes a recording's tempo and pitch.
No augmentation is the fine-tuning default: with the series one, fine-tuning on a new FSDD speaker started
from a training loss of ~2.1 on batches that score ~0.2 unaugmented (an audio encoder augments its own input).
"""

from typing import Any

from deepfeat.data.kinds.base import MSE, PSNR, SNR, SOUND, DataKind, add_kind

AUDIO = add_kind(DataKind(
    name="audio", layout="(N, C, T)", description="waveforms (C, T) at the data's sample rate: one mean/std per channel",
    augment="audio", mild_augment="none", view=SOUND, measures=frozenset({MSE, PSNR, SNR}), rate_key="sample_rate",
    resizable=True,
))


def stored_kind(kind: str, reader: dict[str, Any] | None) -> str:
    """The kind of a stored data info: sound was kind "sequence" with a ``reader`` sample rate before it was a kind
    of its own, so such a record (an older run folder or model) reads as "audio"."""
    return AUDIO.name if kind == "sequence" and AUDIO.rate_key in (reader or {}) else kind
