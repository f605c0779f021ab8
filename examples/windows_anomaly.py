"""Window anomaly scores mapped back to time points, against IsolationForest on the same windows.

    python examples/windows_anomaly.py [RUN]     # RUN: a finished run of examples/configs/kdd135_windows_ae.yaml
"""

from __future__ import annotations

import sys

import numpy as np
from aeon.datasets import load_kdd_tsad_135
from sklearn.ensemble import IsolationForest

import deepfeat
from deepfeat.api import anomaly_score
from deepfeat.data.windows import sliding_windows
from deepfeat.eval.windows import point_metrics, points_from_windows

LENGTH, STRIDE = 64, 2
run = sys.argv[1] if len(sys.argv) > 1 else deepfeat.fit("examples/configs/kdd135_windows_ae.yaml").dir
train, _ = load_kdd_tsad_135(split="train")
test, labels = load_kdd_tsad_135(split="test")
train_w, _ = sliding_windows(train, LENGTH, STRIDE)
test_w, starts = sliding_windows(test, LENGTH, STRIDE)
scores = {"deepfeat autoencoder": anomaly_score(run, test_w)}
forest = IsolationForest(n_estimators=200, random_state=0).fit(train_w.reshape(len(train_w), -1))
scores["IsolationForest"] = -forest.score_samples(test_w.reshape(len(test_w), -1))
print("| method | reduce | point ROC-AUC | point AP |\n|---|---|---|---|")
for name, s in scores.items():
    for reduce in ("max", "mean"):
        m = point_metrics(points_from_windows(s, starts, LENGTH, len(test), reduce), labels)
        print(f"| {name} | {reduce} | {m['roc_auc']:.3f} | {m['average_precision']:.3f} |")
