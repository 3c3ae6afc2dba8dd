"""Render an HTML report with headless Chromium (Debian's `chromium`; `apt-get install -y chromium`) and save a
screenshot, light or dark, to look at: `python -m evals.html_screenshot REPORT.html OUT.png [--dark]`.

Chromium runs offline: no sandbox (containers), no GPU, no background networking or component updates.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
)


def screenshot(
    html: Path, png: Path, *, width: int = 1200, height: int = 2400, dark: bool = False, start: str | None = None
) -> Path:
    """`start`: an element id; the lines between <body> and the line holding it are left out, so the shot shows
    that part of the report (headless Chromium ignores a #fragment when it takes the screenshot)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as scratch:
        page = html.resolve()
        if start:
            page = Path(scratch) / "page.html"
            page.write_text(_from_anchor(html.read_text(encoding="utf-8"), start), encoding="utf-8")
        command = [
            browser,
            *FLAGS,
            f"--user-data-dir={scratch}/profile",
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            page.as_uri(),
        ]
        if dark:
            command.insert(1, "--force-dark-mode")
            command.insert(1, "--blink-settings=preferredColorScheme=0")  # 0: dark
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    return png


def _from_anchor(text: str, anchor: str) -> str:
    lines = text.splitlines()
    body = next(i for i, line in enumerate(lines) if "<body>" in line)
    target = next((i for i, line in enumerate(lines) if f'id="{anchor}"' in line), None)
    if target is None:
        raise SystemExit(f"no element with id {anchor!r}")
    return "\n".join(lines[: body + 1] + lines[target:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--dark", action="store_true", help="prefers-color-scheme: dark")
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--start", help="an element id to start the shot at (e.g. charts, control-IAM-01)")
    args = parser.parse_args(argv)
    print(screenshot(args.html, args.png, height=args.height, dark=args.dark, start=args.start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
