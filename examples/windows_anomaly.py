"""Point scores of a run trained on windows (what `deepfeat score` writes), against IsolationForest on the same windows.

    python examples/windows_anomaly.py [RUN]     # RUN: a finished run of examples/configs/kdd135_windows_ae.yaml

Both methods see the test series cut with the run's own window length and stride, and both map window scores back
to time points the same way (mean or max over the windows covering a point).
"""

from __future__ import annotations

import sys

from aeon.datasets import load_kdd_tsad_135
from sklearn.ensemble import IsolationForest

import deepfeat
from deepfeat.api import score_series
from deepfeat.data.windows import sliding_windows
from deepfeat.run.series_scores import score_series as score_with

run = deepfeat.load(sys.argv[1] if len(sys.argv) > 1 else deepfeat.fit("examples/configs/kdd135_windows_ae.yaml").dir)
windows = run.info.windows  # {length, stride}: declared by the windowed dataset the run trained on
train, _ = load_kdd_tsad_135(split="train")
test, labels = load_kdd_tsad_135(split="test")
train_w, _ = sliding_windows(train, windows["length"], windows["stride"])
forest = IsolationForest(n_estimators=200, random_state=0).fit(train_w.reshape(len(train_w), -1))
forest_scores = lambda w: -forest.score_samples(w.reshape(len(w), -1))  # noqa: E731
print(f"windows of {windows['length']} points, stride {windows['stride']}")
print("| method | reduce | point ROC-AUC | point AP |\n|---|---|---|---|")
for reduce in ("mean", "max"):
    for name, result in (("deepfeat autoencoder", score_series(run, test, labels, reduce)),
                         ("IsolationForest", score_with(forest_scores, windows, test, labels, reduce))):
        m = result["metrics"]
        print(f"| {name} | {reduce} | {m['roc_auc']:.3f} | {m['average_precision']:.3f} |")
