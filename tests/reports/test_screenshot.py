"""scripts/screenshot_report.py renders a report to a non-blank PNG (needs /usr/bin/chromium)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.image import imread

from deepfeat.reports import write_report

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshot_report.py"
CHROMIUM = Path("/usr/bin/chromium")


def test_screenshot_of_report_is_not_blank(full_run: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium) - cannot render the report")
    write_report(full_run)
    out = tmp_path / "report.png"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(full_run), "--out", str(out), "--height", "1400",
         "--browser", str(CHROMIUM)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    image = imread(out)
    assert image.shape[:2] == (1400, 1280)
    # A blank or failed page is one flat colour; a rendered report has text, cards and plots.
    assert image[..., :3].std() > 0.05


def test_screenshot_script_reports_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "nope.html"), "--out", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_screenshot_script_reports_missing_browser(full_run: Path, tmp_path: Path) -> None:
    write_report(full_run)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(full_run), "--out", str(tmp_path / "x.png"),
         "--browser", str(tmp_path / "no-such-browser")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "no Chromium-family browser found" in proc.stderr
    assert not (tmp_path / "x.png").exists()
