"""``python -m deepfeat``: the same as the ``deepfeat`` command."""

import sys

from deepfeat.cli import main

if __name__ == "__main__":
    sys.exit(main())
