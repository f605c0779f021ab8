#!/usr/bin/env bash
# The core smoke of core_smoke.sh with every core dependency but PyTorch at its floor, the lowest version
# pyproject.toml allows: a floor the code has outgrown fails here (part of .ci/run, about 2-5 minutes).
set -euo pipefail
FLOORS=1 exec bash "$(dirname "$0")/core_smoke.sh"
