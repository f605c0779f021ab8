"""The HTML report: self-contained, complete, escaped, and still rendered when pieces are missing."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

from deepfeat.reports import read_index, write_report

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


def _embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_report_is_self_contained_with_every_plot(full_run: Path) -> None:
    html = write_report(full_run).read_text(encoding="utf-8")
    assert not EXTERNAL.search(html)
    assert "<script" not in html.lower() and "@import" not in html
    pngs = _embedded_pngs(html)
    assert len(pngs) == len(read_index(full_run)) == 3
    assert all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    # Plots are grouped under their sections, with titles and captions.
    for title in ("Training", "Features", "Evaluation", "Embedding map", "PCA of the test features."):
        assert title in html


def test_report_shows_results_data_metrics_and_config(full_run: Path) -> None:
    html = write_report(full_run).read_text(encoding="utf-8")
    assert "93.75%" in html  # test accuracy card and table
    assert "87.00%" in html and "at epoch 4" in html  # best val/acc
    assert "15.5 s" in html and "200 steps" in html
    assert "1 \u00d7 8 \u00d7 8" in html and "digits" in html
    assert "linear_probe" in html and "max_iter=1000" in html and "metric=cosine" in html
    assert "Metrics (last 5 of 5 epochs)" in html
    assert "weight_decay: 0.05" in html and "name: adamw" in html
    assert "not found" not in html


def test_report_escapes_user_text(full_run: Path) -> None:
    html = write_report(full_run).read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_without_results_or_plots_still_renders(bare_run: Path) -> None:
    (bare_run / "results.json").unlink()
    html = write_report(bare_run).read_text(encoding="utf-8")
    assert "results.json not found" in html
    assert "No plots were saved" in html and "No test or evaluation results" in html
    assert "Metrics (last 5 of 5 epochs)" in html and "name: adamw" in html


def test_report_of_empty_or_corrupt_run(tmp_path: Path) -> None:
    html = write_report(tmp_path).read_text(encoding="utf-8")
    for file in ("results.json", "metrics.csv", "config.yaml"):
        assert f"{file} not found" in html
    (tmp_path / "results.json").write_text("{not json")
    html = write_report(tmp_path).read_text(encoding="utf-8")
    assert "results.json could not be read" in html


def test_report_index_cannot_point_outside_plots(full_run: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(full_run, tmp_path / "copy"))
    (tmp_path / "secret.png").write_bytes(b"\x89PNG secret")
    entries = read_index(run) + [{"name": "x", "file": "../../secret.png", "title": "t", "caption": "",
                                  "section": "Training"}]
    (run / "plots" / "index.json").write_text(json.dumps(entries))
    html = write_report(run).read_text(encoding="utf-8")
    assert b"secret" not in b"".join(_embedded_pngs(html))
    assert "Missing plot file secret.png" in html


def test_unindexed_png_is_shown_under_other_plots(full_run: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(full_run, tmp_path / "copy"))
    shutil.copy(run / "plots" / "confusion.png", run / "plots" / "extra.png")
    html = write_report(run).read_text(encoding="utf-8")
    assert "Other plots" in html and len(_embedded_pngs(html)) == 4


def test_cards_of_unfinished_run_fall_back_to_metrics(bare_run: Path) -> None:
    (bare_run / "results.json").unlink()
    html = write_report(bare_run).read_text(encoding="utf-8")
    cards = html[html.index('<div class="cards">'):html.index("<section>")]
    assert "epochs</div><div class=\"value\">5</div>" in cards
    assert "15.5 s" in cards  # time_s of the last metrics row
    assert "best val metric" in cards
