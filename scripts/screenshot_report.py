"""Render a run's report.html to a PNG with headless Chromium, to check how a report looks.

Usage: python scripts/screenshot_report.py RUN_DIR_OR_REPORT_HTML [--out report.png] [--height 2400]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The first Chromium-family browser on PATH, or ``None``."""
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def screenshot(report: Path, out: Path, *, width: int = 1280, height: int = 2400, browser: str | None = None) -> Path:
    """Render ``report`` (an HTML file) at ``width`` x ``height`` CSS pixels into the PNG ``out``."""
    # The input is checked before the browser: a wrong path is the same error on every machine.
    if not report.is_file():
        raise FileNotFoundError(f"report not found at {report}")
    browser = shutil.which(browser) if browser else find_browser()
    if browser is None:
        raise FileNotFoundError(f"no Chromium-family browser found (tried {', '.join(BROWSERS)}); "
                                "install one (apt-get install chromium) or pass --browser PATH")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    # A fresh profile per run: no shared state, and no lock clashes with other browser instances.
    with tempfile.TemporaryDirectory(prefix="deepfeat-chromium-") as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={out.resolve()}",
            f"--window-size={width},{height}", report.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if not out.is_file():
        raise RuntimeError(f"{browser} wrote no screenshot (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report.html, or a run directory holding one")
    parser.add_argument("--out", type=Path, default=Path("report.png"), help="PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--browser", default=None, help="browser executable (default: search PATH)")
    args = parser.parse_args(argv)
    report = args.report / "report.html" if args.report.is_dir() else args.report
    try:
        out = screenshot(report, args.out, width=args.width, height=args.height, browser=args.browser)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"screenshot_report: {e}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
