#!/usr/bin/env bash
# CI: deepfeat's core install alone (no extra) from its wheel into a fresh venv, then, in an empty folder outside
# the clone, the quick start as a pip user runs it: an example copied out of the package and trained (digits MLP),
# `embed` of that run, and an autoencoder on a table. Prints the venv's size and the install's wall time.
#
# PyTorch comes first, on its own: TORCH_PIP_ARGS defaults to the versions this machine's pip finds on its own
# disk; elsewhere use the CPU-only build as PyTorch documents it, e.g.
#   TORCH_PIP_ARGS="torch torchvision --index-url https://download.pytorch.org/whl/cpu" .ci/core_smoke.sh
# FLOORS=1 (.ci/floors.sh): every other core dependency at the lowest version pyproject.toml allows, its floor.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHON=${PYTHON:-python3}
TORCH_PIP_ARGS=${TORCH_PIP_ARGS:-torch==2.14.1 torchvision==0.29.1}
export PIP_NO_CACHE_DIR=1  # a throwaway venv: nothing it downloads is worth keeping on the disk

constraints=()
if [[ "${FLOORS:-}" == 1 ]]; then
  "$PYTHON" - "$repo/pyproject.toml" > "$work/floors.txt" <<'PY'
import re, sys, tomllib
for requirement in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]:
    name, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([^,]+)(?:,.*)?", requirement).groups()
    if name not in ("torch", "torchvision"):  # PyTorch's floor build is a download of several GB: not here
        print(f"{name}=={floor}")
PY
  echo "floors: $(paste -sd' ' "$work/floors.txt")"
  constraints=(-c "$work/floors.txt")
fi

start=$SECONDS
"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip)
# shellcheck disable=SC2086  # TORCH_PIP_ARGS is a list of pip arguments
"${pip[@]}" install --progress-bar off $TORCH_PIP_ARGS "${constraints[@]}"
mkdir "$work/source"  # a copy: an in-tree build would leave build/ in the clone, and reuse it next time
cp -a "$repo/pyproject.toml" "$repo/README.md" "$repo/LICENSE" "$repo/src" "$repo/examples" "$work/source/"
"${pip[@]}" wheel --no-deps -w "$work/dist" "$work/source"
"${pip[@]}" install --progress-bar off "$work"/dist/deepfeat-*.whl "${constraints[@]}"
echo "core install: $(du -sh "$work/venv" | cut -f1) in $((SECONDS - start)) s, $("${pip[@]}" list 2>/dev/null | tail -n +3 | wc -l) packages"

mkdir "$work/user" && cd "$work/user"
export PATH="$work/venv/bin:$PATH"
deepfeat examples copy digits_mlp
deepfeat fit -c digits_mlp.yaml --out runs/mlp  # as a pip user would, whole: about 40 s
deepfeat embed runs/mlp --data digits --out features.npy
python -c "import numpy; z = numpy.load('features.npy'); assert z.shape == (1797, 128), z.shape"
cat > table_ae.yaml <<'EOF'
name: table-ae
data: {name: breast_cancer, val_fraction: 0.1, test_fraction: 0.2}
encoder: {name: mlp, hidden: [32]}
learner: {name: autoencoder, code_dim: 8}
training: {epochs: 2, batch_size: 64}
EOF
deepfeat fit -c table_ae.yaml --out runs/table-ae
python -c "import json; r = json.load(open('runs/table-ae/results.json')); assert r['status'] == 'completed', r['status']"
python - <<'PY'
from sklearn.datasets import load_digits
from deepfeat.sklearn import DeepClassifier
X, y = load_digits(return_X_y=True)
clf = DeepClassifier(encoder={"name": "mlp", "hidden": [64]}, epochs=20, random_state=0).fit(X[:1200], y[:1200])
accuracy = clf.score(X[1200:], y[1200:])
assert accuracy > 0.85, accuracy  # 0.90 measured
PY
"${pip[@]}" list 2>/dev/null | grep -iE "^(numpy|scikit-learn|matplotlib|PyYAML|tqdm|safetensors|torchinfo|filelock|torch|torchvision) "
echo "core smoke: 4 passed, 0 failed"
