"""End to end: the report of a real short run, opened in headless Chromium (Debian's package,
driven by Playwright without any browser download). A screenshot is kept as a test artefact in
$GANKIT_TEST_ARTIFACTS (default build/test-artifacts/).
"""

import os
import shutil
from pathlib import Path

import pytest
from helpers import tiny_config
from test_report_data import make_run

from gankit.api import train
from gankit.report import write_report

ARTIFACTS = Path(os.environ.get("GANKIT_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parents[1] / "build" / "test-artifacts")
# Nothing in the page needs the network, so the browser is kept off it too.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable(what: str) -> None:
    message = (f"{what}; the browser test needs Debian's chromium (apt-get install -y chromium, "
               "as .ci/run does) and the playwright package (pip install -e '.[dev]')")
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs both: a missing one is a broken CI, not a skip
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    exe = (os.environ.get("GANKIT_CHROMIUM") or shutil.which("chromium")
           or shutil.which("chromium-browser"))
    if exe is None:
        _unavailable("no Chromium executable on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:  # launch() gives the browser a fresh temporary profile
        b = p.chromium.launch(executable_path=exe, args=FLAGS, headless=True)
        yield b
        b.close()


def open_page(browser, path: Path):
    """Load ``path``; return the page and lists that collect console errors and requests."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, errors, requests


def images(page):
    return page.evaluate("[...document.images].map(i => ({alt: i.alt, complete: i.complete, "
                         "width: i.naturalWidth}))")


def visible_grids(page):
    return page.evaluate("[...document.querySelectorAll('.grid-column')].map(c => "
                         "[...c.querySelectorAll('img.grid')].filter(i => !i.hidden)"
                         ".map(i => Number(i.dataset.epoch)))")


def move_slider(page, index: int) -> None:
    page.evaluate("i => { const s = document.getElementById('grid-slider'); s.value = i; "
                  "s.dispatchEvent(new Event('input')); }", index)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "run"
    train(config=tiny_config("train.epochs=3", "report.html=true"), out=out, progress=False)
    return out


def test_report_of_a_real_run_in_chromium(browser, real_run):
    report = real_run / "report.html"  # written by the trainer when the run ended
    page, errors, requests = open_page(browser, report)
    assert errors == []
    assert requests == [report.resolve().as_uri()]  # data URIs only: nothing fetched
    imgs = images(page)
    assert imgs and all(i["complete"] and i["width"] > 0 for i in imgs), imgs
    curves = page.evaluate("[...document.querySelectorAll('#curves img')].map(i => i.naturalWidth)")
    assert len(curves) == 4 and min(curves) > 500  # losses, D outputs, optimiser, throughput
    assert page.locator("#grid-slider").count() == 1
    assert visible_grids(page) == [[3]] and page.inner_text("#grid-epoch") == "epoch 3"
    move_slider(page, 0)
    assert visible_grids(page) == [[1]] and page.inner_text("#grid-epoch") == "epoch 1"
    page.locator(".strip figure[data-epoch='2']").click()
    assert visible_grids(page) == [[2]]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    page.close()


def test_comparison_page_in_chromium(browser, real_run, tmp_path):
    other = make_run(tmp_path / "recorded")  # grids at epochs 1 and 2 only
    out = write_report([real_run, other], tmp_path / "compare.html")
    page, errors, _ = open_page(browser, out)
    assert errors == []
    assert all(i["width"] > 0 for i in images(page))
    assert visible_grids(page) == [[3], [2]]  # the latest grid of each run at epoch 3
    move_slider(page, 0)
    assert visible_grids(page) == [[1], [1]]
    assert "2 runs compared" in page.title()
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    page.close()


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<img src='missing.png'><script>notDefined()</script>")
    page, errors, _ = open_page(browser, broken)
    assert any("notDefined" in e for e in errors)
    assert images(page)[0]["width"] == 0
    page.close()
