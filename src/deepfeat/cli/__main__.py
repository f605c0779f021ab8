"""``python -m deepfeat.cli`` (as ``torchrun -m deepfeat.cli`` runs it): the ``deepfeat`` command."""

import sys

from deepfeat.cli.app import main

sys.exit(main())
