"""Building blocks: activations, initializers, regularizers, normalization, encoders, heads.

Importing this package registers every activation, initializer, regularizer, norm and encoder.
"""

from deepfeat.nn.activations import (
    ACTIVATIONS,
    ActivationSpec,
    Family,
    activation_family,
    get_activation,
    split_activation,
)
from deepfeat.nn.cnn import BasicBlock, CNNEncoder
from deepfeat.nn.custom import register_encoder
from deepfeat.nn.encoder import ENCODERS, Encoder, ModuleEncoder, build_encoder
from deepfeat.nn.heads import LinearHead, ProjectionHead
from deepfeat.nn.init import INITIALIZERS, Initializer, fans, get_initializer, init_module
from deepfeat.nn.mlp import MLP, MLPEncoder
from deepfeat.nn.norm import NORMS, ChannelLayerNorm, make_norm, norm_name
from deepfeat.nn.params import decay_parameter_names, split_decay_params, weight_tensors
from deepfeat.nn.regularizers import REGULARIZERS, WeightPenalty, get_regularizer
from deepfeat.nn.rnn import RNNEncoder
from deepfeat.nn.tcn import TCNEncoder, TemporalBlock
from deepfeat.nn.inception_time import InceptionEncoder, InceptionModule
from deepfeat.nn.tsc_convnets import FCNEncoder, ResNet1dEncoder
from deepfeat.nn.conv1d_decoder import Conv1dDecoder
from deepfeat.nn.text import TextRNNEncoder, TextTCNEncoder, masked_mean
from deepfeat.nn.pretrained_text import PretrainedTextEncoder
from deepfeat.nn.audio_encoder import AudioEncoder
from deepfeat.nn.audio_frontend import FRONTENDS
from deepfeat.nn.wave_cnn import WaveCNNEncoder

__all__ = [
    "ACTIVATIONS", "ActivationSpec", "Family", "activation_family", "get_activation",
    "split_activation",
    "BasicBlock", "CNNEncoder", "ENCODERS", "Encoder", "ModuleEncoder", "build_encoder", "register_encoder",
    "Conv1dDecoder", "FCNEncoder", "InceptionEncoder", "InceptionModule", "ResNet1dEncoder",
    "LinearHead", "ProjectionHead",
    "INITIALIZERS", "Initializer", "fans", "get_initializer", "init_module",
    "MLP", "MLPEncoder", "NORMS", "ChannelLayerNorm", "make_norm", "norm_name",
    "decay_parameter_names", "split_decay_params", "weight_tensors",
    "REGULARIZERS", "WeightPenalty", "get_regularizer",
    "RNNEncoder", "TCNEncoder", "TemporalBlock",
    "TextRNNEncoder", "TextTCNEncoder", "masked_mean", "PretrainedTextEncoder",
    "AudioEncoder", "FRONTENDS", "WaveCNNEncoder",
]
