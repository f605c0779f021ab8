"""Device and precision are decided here, and only here.

``auto`` picks CUDA when present, else the CPU; bfloat16 autocast where the hardware runs it fast
(CUDA with bf16 support, or a CPU with AMX / AVX512-BF16, where bf16 convolutions run ~3x faster
than float32), float32 otherwise; channels_last memory format for conv nets on those paths and on
every CPU: oneDNN's float32 convolutions run channels_last too, and a training step of the benchmark
CNNs took 1.03-1.5x less time that way on a 2-core AVX-512 Xeon (``benchmarks/bench_core.py``).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.encoder import channels_last_ok

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` (None: left as it is) for the ``with`` block, then put back
    however the block ends: ``training.threads`` holds for one run, not for the rest of the process."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when this CPU has AMX or AVX512-BF16 instructions (Linux /proc/cpuinfo flags)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> cuda if available else cpu; otherwise the named device, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"training.device: expected auto, cpu, cuda or cuda:N, got {name!r}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("training.device: expected an available device, got 'cuda' but no GPU is visible. Use device: auto or cpu.")
    return device


@dataclass(frozen=True)
class Precision:
    """How one run computes: device, autocast dtype (None = float32) and conv memory format."""

    device: torch.device
    dtype: torch.dtype | None
    channels_last: bool

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def autocast(self) -> ContextManager[Any]:
        """A fresh autocast context (or a no-op for float32)."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    @property
    def autocast_factory(self) -> Callable[[], ContextManager[Any]]:
        return self.autocast

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A fresh loss scaler for float16 autocast, None otherwise.

        float16 rounds small gradients to zero (nothing below 6e-8 survives), so its recipe scales the loss up
        before backward and the gradients back down before they are used (Micikevicius et al. 2018, "Mixed
        Precision Training"); bfloat16 has float32's range and needs none.
        """
        return torch.amp.GradScaler(self.device.type) if self.dtype is torch.float16 else None

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Move to the device; channels_last where it pays (conv nets)."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Move a batch to the device (non-blocking) in the memory format the model expects."""
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


def resolve_precision(
    precision: str, device: torch.device, model: nn.Module, channels_last: bool | str = "auto"
) -> Precision:
    """Pick autocast dtype and memory format for ``model`` on ``device``.

    ``auto`` uses bf16 only for conv nets on a CPU with fast bf16 (small MLPs gain nothing there and
    lose precision) and bf16 on any CUDA device that supports it. ``channels_last="auto"`` turns it on for
    conv nets under autocast and on the CPU, unless one of the model's encoders cannot take it.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"training.precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    conv = has_conv(model)
    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        else:
            precision = "bf16" if conv and cpu_has_fast_bf16() else "fp32"
    if precision == "fp16" and device.type not in ("cuda", "cpu"):
        raise ConfigError(f"training.precision: expected fp16 on a CUDA device or the CPU, got device {device.type}. "
                          "Use bf16 or fp32.")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if channels_last == "auto":
        channels_last = conv and (dtype is not None or device.type == "cpu") and channels_last_ok(model)
    return Precision(device, dtype, bool(channels_last))
