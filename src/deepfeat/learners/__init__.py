"""Learners: what is learned and how (supervised, autoencoders, GANs, contrastive, transfer)."""

from deepfeat.learners.base import Learner, StepContext
from deepfeat.learners.build import LEARNERS, build_learner
from deepfeat.learners.supervised import Classifier

__all__ = ["LEARNERS", "Classifier", "Learner", "StepContext", "build_learner"]
