"""A model summary as Keras' ``model.summary()`` prints it: each layer of the encoder with its output shape and
parameter count (by torchinfo, on one dry batch), then every other part of the learner and the totals.
"""

from __future__ import annotations

import re
import warnings

import torch
from torch import nn

from deepfeat.data.info import DataInfo


def count(module: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def model_summary(learner: nn.Module, info: DataInfo, depth: int = 3) -> str:
    """The summary text: the encoder's layers (run on two all-zero samples, eval mode, no gradient, no RNG drawn), the
    learner's other parts (decoder, head, discriminator, ...) with their counts, and the totals."""
    encoder = getattr(learner, "encoder", learner)  # the contract: every learner embeds through its encoder
    lines = [f"{type(learner).__name__} on {info.kind} input {tuple(info.input_shape)}", ""]
    lines.append(_layers(encoder, info, depth))
    others = [(name, child) for name, child in learner.named_children() if child is not encoder]
    if others:
        lines += ["", "other parts:"]
        width = max(len(name) for name, _ in others)
        lines += [f"  {name:<{width}}  {type(child).__name__:<24} {count(child):>12,} parameters" for name, child in others]
    total, trainable = count(learner), count(learner, trainable=True)
    lines += ["", f"total: {total:,} parameters ({trainable:,} trainable, {total - trainable:,} frozen), "
                  f"{sum(p.numel() * p.element_size() for p in learner.parameters()) / 2**20:.2f} MiB of weights"]
    return "\n".join(lines)


def _layers(encoder: nn.Module, info: DataInfo, depth: int) -> str:
    try:
        from torchinfo import summary
    except ImportError:  # a dependency; listed without shapes if someone removed it
        return _children(encoder)
    was_training = encoder.training
    device = next(encoder.parameters(), torch.empty(0)).device
    try:
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = summary(encoder, input_data=[info.example(2).to(device)], depth=depth, verbose=0, mode="eval",
                            col_names=("output_size", "num_params"), row_settings=("var_names",), device=device)
        return _tidy(str(stats))
    except Exception as e:  # noqa: BLE001 -- a summary must never stop a run: say why there are no shapes
        cause = e.__cause__ or e  # torchinfo wraps the module's own error
        first = (str(cause).splitlines() or [""])[0]
        return (f"(no layer table: a dry run of {type(encoder).__name__} failed: {type(cause).__name__}: {first})\n"
                + _children(encoder))
    finally:
        encoder.train(was_training)


def _children(module: nn.Module) -> str:
    """The module's direct children with their parameter counts, when there is no layer table."""
    return "\n".join(f"  {name}: {type(m).__name__} {count(m):,}" for name, m in module.named_children())


_UNITS = {"NONE": "", "KILOBYTES": "K", "MEGABYTES": "M", "GIGABYTES": "G", "TERABYTES": "T"}


def _tidy(table: str) -> str:
    """torchinfo's table without its memory estimate (the totals line says the weights' size), units made readable."""
    lines = table.splitlines()
    cut = next((i for i, line in enumerate(lines) if line.startswith("Input size")), len(lines))
    text = "\n".join(lines[:cut]).rstrip("=\n") + "\n" + "=" * len(lines[0])
    return re.sub(r" \(Units\.(\w+)\)", lambda m: f" ({_UNITS.get(m.group(1), m.group(1))})" if _UNITS.get(m.group(1)) else "", text)
