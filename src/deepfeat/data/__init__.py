"""Datasets and batching: a registry of sources, checked and normalized splits, in-memory batches.

Importing this package registers every dataset source (digits, iris, wine, breast_cancer, mnist,
fashion_mnist, mnist_8x8, cifar10, mnist1d, ucr, arrays, image_folder, sms_spam, text_csv, text_folder, hf_text, fsdd, audio_folder, shards).
"""

# Imported for their side effect: each module registers its dataset sources.
from deepfeat.data import (audio, audio_augment, files, hf_text, image_folder, in_memory, mnist_8x8, shards,  # noqa: F401
                           sklearn_sets, table_augment, text, timeseries, token_augment, torchvision_sets,
                           windows)
from deepfeat.data.bundle import (
    LoadOptions,
    encode_labels,
    from_arrays,
    make_bundle,
    split_indices,
    subsample,
)
from deepfeat.data.checks import check_arrays, check_labels, infer_kind
from deepfeat.data.datasets import (
    DATASETS,
    available_datasets,
    data_root,
    load_dataset,
    register_dataset,
)
from deepfeat.data.info import DataInfo, Kind
from deepfeat.data.splits import Batch, DataBundle, Split, StreamSplit, TensorSplit
from deepfeat.data.tokenize import TOKENIZERS, build_tokenizer, encode_texts

__all__ = [
    "DATASETS",
    "Batch",
    "DataBundle",
    "DataInfo",
    "Kind",
    "LoadOptions",
    "Split",
    "StreamSplit",
    "TensorSplit",
    "TOKENIZERS",
    "available_datasets",
    "build_tokenizer",
    "check_arrays",
    "check_labels",
    "data_root",
    "encode_texts",
    "encode_labels",
    "from_arrays",
    "infer_kind",
    "load_dataset",
    "make_bundle",
    "register_dataset",
    "split_indices",
    "subsample",
]
