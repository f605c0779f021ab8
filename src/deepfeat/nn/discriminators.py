"""Discriminators are encoders: a GAN's critic is any registered encoder plus a linear score head.

This module adds what GANs need on top of the encoders: the ``dcgan_disc`` preset (strided
convolutions, no pooling, LeakyReLU 0.2; Radford et al. 2016) and spectral normalization of every
weight (Miyato et al. 2018), which bounds the critic's Lipschitz constant layer by layer.
"""

from __future__ import annotations

import functools

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from deepfeat.nn.cnn import CNNEncoder
from deepfeat.nn.encoder import ENCODERS


def spectral_normalize(module: nn.Module) -> nn.Module:
    """Apply spectral normalization to every Linear and Conv weight of ``module`` in place; returns it."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            spectral_norm(m)
    return module


def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` mixes samples through batch norm (which breaks per-sample gradient penalties)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


ENCODERS.add(
    "dcgan_disc",
    # The DCGAN paper's TensorFlow code used 5x5 kernels with stride 2; "flatten" keeps the
    # spatial layout in the features, as the paper's discriminator does before its last linear layer.
    functools.partial(
        CNNEncoder, channels=(64, 128), kernel_size=5, stride=2, pool="none", norm="batch",
        activation={"name": "leaky_relu", "negative_slope": 0.2}, global_pool="flatten",
    ),
    description="DCGAN discriminator trunk (Radford et al. 2016): stride-2 5x5 convs, LeakyReLU 0.2, no pooling.",
)
