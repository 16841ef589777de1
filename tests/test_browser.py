"""Reports opened in a real headless Chromium, offline: every figure drawn, no JavaScript errors.

Needs Debian's `chromium` and `chromium-driver`; `make test` installs them. Screenshots are
saved under $SCREENSHOT_DIR (default: .pytest_cache/screenshots) to be looked at.
"""

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from forecaster.cli import main

FAST = ["--max-epochs", "2", "--hidden-size", "8", "--num-layers", "1", "--lookback", "16", "--horizon", "3"]
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).parent.parent / ".pytest_cache" / "screenshots"))

DRAWN = """
const plots = [...document.querySelectorAll('.js-plotly-plot')];
return plots.map(gd => ({
  id: gd.closest('.figure').id,
  traces: (gd._fullData || []).length,
  svg: gd.querySelectorAll('.main-svg').length,
  drawn: gd.querySelectorAll('.scatterlayer .trace, .barlayer .trace, .heatmaplayer .hm, .imagelayer image').length
         + (gd._fullLayout && gd._fullLayout._glcanvas ? gd._fullLayout._glcanvas.size() : 0),
}));
"""


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, "install Debian's chromium and chromium-driver (make test does)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1300,4000"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    assert main(["fit", "--dataset", "jfk-weather", *FAST, "--out", str(root / "fit")]) == 0
    assert main(["compare", "--dataset", "ibm", "--models", "rnn,lstm,seq2seq-attn", *FAST,
                 "--out", str(root / "compare")]) == 0
    assert main(["fit", "--dataset", "ibm,msft", *FAST, "--out", str(root / "panel")]) == 0
    return root


def _open(browser, path: Path, expected: set[str], name: str):
    browser.get_log("browser")  # drop earlier messages
    browser.get(path.as_uri())
    WebDriverWait(browser, 60).until(
        lambda d: (plots := d.execute_script(DRAWN)) and len(plots) == len(expected)
        and all(p["svg"] > 0 and p["traces"] > 0 and p["drawn"] > 0 for p in plots))
    plots = browser.execute_script(DRAWN)
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1300, min(height + 100, 12000))
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    return plots, errors


def test_fit_report_renders_offline(browser, reports):
    expected = {"fig-series", "fig-forecast:temp", "fig-fans:temp", "fig-per_step", "fig-calibration", "fig-loss"}
    plots, errors = _open(browser, reports / "fit" / "report.html", expected, "fit-report")
    assert {p["id"] for p in plots} == expected
    assert not errors, errors
    assert (SHOTS / "fit-report.png").stat().st_size > 50_000


def test_compare_report_renders_offline(browser, reports):
    expected = {"fig-series", "fig-overlay:Close", "fig-curves", "fig-gradient_flow", "fig-grad_norms",
                "fig-attention:seq2seq-attn"}
    plots, errors = _open(browser, reports / "compare" / "report.html", expected, "compare-report")
    assert {p["id"] for p in plots} == expected
    assert not errors, errors
    text = browser.find_element("tag name", "table").text
    for model in ["rnn", "lstm", "seq2seq-attn", "naive"]:
        assert model in text


def test_many_series_report_renders_offline(browser, reports):
    expected = {"fig-ratios", "fig-forecast:ibm:Close", "fig-forecast:msft:Close", "fig-loss"}
    plots, errors = _open(browser, reports / "panel" / "report.html", expected, "panel-report")
    assert {p["id"] for p in plots} == expected
    assert not errors, errors
    text = browser.find_element("tag name", "body").text
    assert "of 2 series beat the naive last value" in text and "ibm" in text and "msft" in text
