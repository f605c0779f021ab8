"""Autoencoder pretraining of a network ``x -> code``: train it with a mirrored decoder to reconstruct its inputs.

Deep SVDD's initialisation (Ruff et al. 2018, "Deep One-Class Classification", ICML, section 4.1): the
network's weights start from the encoder of an autoencoder trained on the normal training data, with the
same bias-free architecture and a mirrored decoder; the decoder is discarded afterwards. Loss: the mean
squared error between the decoder's output and the input; Adam (the paper: lr 1e-4, weight decay 0.5e-6).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, ContextManager

import torch
from torch import nn

from deepfeat.errors import TrainingError

log = logging.getLogger("deepfeat")


def reconstruction_loss(encode: Callable[[torch.Tensor], torch.Tensor], decoder: nn.Module,
                        x: torch.Tensor) -> torch.Tensor:
    """Mean squared error of ``decoder(encode(x))`` against ``x`` (B, *input_shape), as a float32 scalar."""
    return (decoder(encode(x)).float() - x.float()).pow(2).mean()


def pretrain_autoencoder(network: nn.Module, encode: Callable[[torch.Tensor], torch.Tensor], decoder: nn.Module,
                         batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                         autocast: Callable[[], ContextManager[Any]], epochs: int, lr: float,
                         weight_decay: float = 0.5e-6, name: str = "autoencoder",
                         on_epoch_end: Callable[[int, float], None] | None = None) -> list[float]:
    """Train ``encode`` (the forward of ``network``) and ``decoder`` for ``epochs`` shuffled epochs of ``batches``.

    ``batches.shuffled(epoch)`` gives one shuffled epoch of ``(x, y)`` batches (a
    :class:`~deepfeat.engine.fit_batches.FitBatches`). Only parameters that require grad train (fixed
    biases stay fixed). Logs one line per epoch; a non-finite loss is a :class:`TrainingError`.
    ``on_epoch_end(epoch, loss)`` is called after each epoch (1-based), e.g. to measure validation loss.
    Returns the mean training loss of each epoch.
    """
    decoder.to(next(network.parameters()).device)
    params = [p for m in (network, decoder) for p in m.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    was_training, history = network.training, []
    network.train()
    decoder.train()
    with torch.enable_grad():
        for epoch in range(epochs):
            t0, total, count = time.perf_counter(), 0.0, 0
            for x, _ in batches.shuffled(epoch):
                x = prepare(x)
                with autocast():
                    loss = reconstruction_loss(encode, decoder, x)
                if not torch.isfinite(loss):
                    raise TrainingError(f"{name} pretraining at epoch {epoch + 1}: expected a finite reconstruction "
                                        f"loss, got {loss.item()}. Lower the pretraining learning rate "
                                        f"(now {lr:g}) or check the inputs for NaN/inf.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, count = total + loss.item() * len(x), count + len(x)
            history.append(total / max(count, 1))
            log.info(f"{name} pretraining epoch {epoch + 1}/{epochs}: reconstruction loss "
                     f"{history[-1]:.5g} ({time.perf_counter() - t0:.1f} s)")
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, history[-1])
                network.train()
                decoder.train()
    network.train(was_training)
    return history
