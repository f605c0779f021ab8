#!/usr/bin/env bash
# The core smoke of core_smoke.sh with every core dependency but PyTorch at its floor, the lowest version
# pyproject.toml allows: a floor the code has outgrown fails here. Not in .ci/run (about 7 minutes more).
set -euo pipefail
FLOORS=1 exec bash "$(dirname "$0")/core_smoke.sh"
