"""Learners: what is learned and how (supervised, autoencoders, GANs, contrastive, transfer)."""

from deepfeat.learners.base import Learner, StepContext
from deepfeat.learners.build import LEARNERS, build_learner
from deepfeat.learners.supervised import Classifier
from deepfeat.learners import simclr, transfer  # noqa: F401,E402  (registers simclr, transfer)
from deepfeat.learners import autoencoder, contractive, denoising, sparse, vae  # noqa: F401  (registration)
from deepfeat.learners import gan  # noqa: F401,E402  (registers dcgan, wgan_gp, mlp_gan)
from deepfeat.learners import seq_autoencoder  # noqa: F401,E402  (registers seq_autoencoder)
from deepfeat.learners import deep_svdd  # noqa: F401,E402  (registers deep_svdd)
from deepfeat.learners import masked_autoencoder, transform_prediction, vicreg  # noqa: F401,E402  (registers mae, transform_prediction, vicreg)
from deepfeat.learners import diffusion_time, flow  # noqa: F401,E402  (registers diffusion_time, flow)
from deepfeat.learners import score_ensemble  # noqa: F401,E402  (registers score_ensemble, after the detectors it combines)

__all__ = ["LEARNERS", "Classifier", "Learner", "StepContext", "build_learner"]
