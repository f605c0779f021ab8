"""The run layer's evaluations and figures, one file per family; importing this package registers them all."""

from deepfeat.run.evaluations import audio, autoencoder, explorer, features, generative, low_label, text  # noqa: F401
