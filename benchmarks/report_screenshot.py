"""Screenshot the top of a run's report in headless Chromium, for the README.

    python benchmarks/report_screenshot.py runs/report-demo/report.html docs/report-paper-mnist.png

Prints the page's console errors (expected: none) and the PNG's size. Needs Debian's chromium
and the playwright package (the dev extras), like tests/test_report_browser.py.
"""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1040, help="CSS pixels of the page kept")
    parser.add_argument("--height", type=int, default=2080, help="CSS pixels of the page kept")
    parser.add_argument("--scale", type=float, default=0.8, help="output pixels per CSS pixel")
    args = parser.parse_args()
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("no chromium on PATH: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=FLAGS)
        page = browser.new_page(viewport={"width": 1300, "height": args.height})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(args.report.resolve().as_uri(), wait_until="load")
        png = page.screenshot(clip={"x": 0, "y": 0, "width": args.width, "height": args.height})
        browser.close()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    size = (round(image.width * args.scale), round(image.height * args.scale))
    small = image.resize(size, Image.LANCZOS).quantize(128, method=Image.Quantize.MEDIANCUT)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    small.save(args.out, optimize=True)
    print(f"console errors: {errors or 'none'}; wrote {args.out} {size[0]}x{size[1]}, "
          f"{args.out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
