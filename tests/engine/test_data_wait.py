"""The data-wait measure: the share of an epoch spent fetching batches, and the one warning naming the pipeline."""

from __future__ import annotations

import logging
import time

import pytest

from deepfeat.engine import data_wait
from deepfeat.engine.data_wait import DataWait


def _slow(n: int, seconds: float):  # type: ignore[no-untyped-def]
    for i in range(n):
        time.sleep(seconds)
        yield i


def test_an_epoch_waiting_on_its_batches_warns_once_naming_the_data_pipeline(monkeypatch: pytest.MonkeyPatch,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(data_wait, "MIN_SECONDS", 0.0)
    wait = DataWait()
    for epoch in range(2):
        for _ in wait.timed(_slow(4, 0.02)):
            pass  # no compute: the batches are all the epoch waits for
        with caplog.at_level(logging.WARNING, logger="deepfeat"):
            wait.end(epoch, workers=0)
    assert wait.share > 0.9
    assert [r.getMessage()[:42] for r in caplog.records] == ["data pipeline: epoch 1 waited for batches "]


def test_an_epoch_busy_computing_does_not_warn(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(data_wait, "MIN_SECONDS", 0.0)
    wait = DataWait()
    for _ in wait.timed(range(4)):
        time.sleep(0.02)
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        wait.end(0, workers=1)
    assert wait.share < 0.2 and not caplog.records


def test_each_epoch_s_data_wait_share_is_a_metrics_csv_column_and_shown_in_the_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv

    import deepfeat

    cfg = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [16]},
           "training": {"epochs": 2, "batch_size": 256, "progress": "none"},
           "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False}}
    run = deepfeat.fit(cfg, out=tmp_path / "run").dir
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert list(rows[0])[:5] == ["epoch", "step", "time_s", "data_wait", "lr"]
    assert len(rows) == 2 and all(0.0 <= float(r["data_wait"]) <= 1.0 for r in rows)
    assert "<th>data_wait</th>" in (run / "report.html").read_text().replace(' class="num"', "")
