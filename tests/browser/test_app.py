"""The workbench at ``/`` in a real browser (Debian's headless Chromium via playwright): it loads with no
request beyond the service and no JavaScript error, switches category, filters a district, proposes a
canteen in a scenario and sees the gap count drop, undoes it, prints an A3 PDF with legend and scale, and
/docs renders offline."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from browser_tools import Watched, screenshot, watch

pytestmark = pytest.mark.browser

#: How long the page may take to do one thing (ms): loaded, redrawn after a switch or an edit.
WAIT_MS = 20_000


def api(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=30) as resp:
        return json.load(resp)


def gap_total(base: str, query: str) -> int:
    return int(api(base, f"/gaps?kind=coverage&limit=1&{query}")["total"])


def settle(page: Any) -> None:
    """Wait until the page has no refresh or edit in flight."""
    page.wait_for_function("window.circlesApp && !window.circlesApp.busy", timeout=WAIT_MS)


def shown_gaps(page: Any) -> int:
    return int(page.inner_text("#gap-count").replace(",", ""))


@pytest.fixture(scope="module")
def app_page(chromium, live_service) -> Any:
    """The workbench, loaded once for the module's tests (each leaves it in the default view)."""
    w = watch(chromium, live_service)
    w.page.goto(live_service + "/")
    w.page.wait_for_selector("body.ready", timeout=60_000)
    yield w
    w.page.context.close()


def test_loads_offline_without_errors(app_page: Watched, live_service, screenshots):
    page = app_page.page
    app_page.clean()
    assert all(u.startswith(live_service) or u.startswith("data:") for u in app_page.requests)
    # one category, one threshold: canteen within its 15 minutes, as /gaps says
    assert page.input_value("#category") == "canteen"
    assert page.locator('input[name="minutes"]:checked').get_attribute("value") == "15"
    assert shown_gaps(page) == gap_total(live_service, "category=canteen&minutes=15")
    # markers drawn from the legend's own definitions: observed (OSM) and sample both present
    assert page.locator("#map .fac-icon .marker-sample").count() > 0
    legend = page.inner_text(".legend")
    for text in ("Legend", "observed (OSM)", "SAMPLE", "user-supplied", "service area"):
        assert text in legend
    assert page.locator(".leaflet-control-scale-line").inner_text().strip()
    assert page.locator(".north-arrow").count() == 1
    assert page.locator("table.gaps tbody tr").count() == shown_gaps(page)
    screenshot(page, screenshots / "app.png")


def test_switch_category_and_sort(app_page: Watched, live_service):
    page = app_page.page
    page.select_option("#category", "clinic")
    settle(page)
    assert "Clinic" in page.inner_text(".headline-cat")
    assert shown_gaps(page) == gap_total(live_service, "category=clinic&minutes=15")
    assert page.locator("#map .leaflet-area-pane path").count() == 1  # one service area: this category's
    page.locator('input[name="minutes"][value="10"]').check()
    settle(page)
    assert "10 分钟" in page.inner_text(".headline-cat")
    assert shown_gaps(page) == gap_total(live_service, "category=clinic&minutes=10")
    # sort by covered share (click the header), then click a row to zoom to it
    page.click("table.gaps th[data-key=share]")
    first = page.locator("table.gaps tbody tr").first
    zoom_before = page.evaluate("circlesApp.map.map.getZoom()")
    first.click()
    page.wait_for_function(f"circlesApp.map.map.getZoom() > {zoom_before}", timeout=WAIT_MS)
    page.select_option("#category", "canteen")
    settle(page)
    app_page.clean()


def test_district_filter(app_page: Watched, live_service, screenshots):
    page = app_page.page
    page.select_option("#district", "金牛区")
    settle(page)
    expected = gap_total(live_service, "category=canteen&minutes=15&district=" + quote("金牛区"))
    assert shown_gaps(page) == expected
    districts = page.locator("table.gaps tbody tr td:nth-child(2)").all_inner_texts()
    assert districts and set(districts) == {"金牛区"}
    assert "金牛区" in page.inner_text("#district-table")
    screenshot(page, screenshots / "app_district.png")
    page.select_option("#district", "")
    settle(page)
    app_page.clean()


def test_scenario_propose_undo(app_page: Watched, live_service, screenshots):
    page = app_page.page
    baseline = gap_total(live_service, "category=canteen&minutes=15")
    site = api(live_service, "/sites?category=canteen&k=1")["sites"][0]  # a site that closes a gap
    page.fill("#new-scenario-name", "browser test: one canteen")
    page.click("#new-scenario-form button[type=submit]")
    page.wait_for_function(
        "circlesApp.view.scenario && circlesApp.data.view.scenario === circlesApp.view.scenario",
        timeout=WAIT_MS,
    )
    settle(page)
    sid = page.input_value("#scenario")
    assert sid and shown_gaps(page) == baseline
    page.click("#add-mode")
    x, y = page.evaluate(
        "([lat, lon]) => { const p = circlesApp.map.map.latLngToContainerPoint([lat, lon]); "
        "return [p.x, p.y]; }",
        [site["lat"], site["lon"]],
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_function(
        "document.querySelector('#changes-count').textContent.startsWith('1 ')", timeout=WAIT_MS
    )
    settle(page)
    after = shown_gaps(page)
    assert after < baseline
    # the scenario changes /gaps?scenario= and not /gaps (the baseline register is untouched)
    assert gap_total(live_service, f"category=canteen&minutes=15&scenario={sid}") == after
    assert gap_total(live_service, "category=canteen&minutes=15") == baseline
    assert page.locator("#map .fac-icon .marker-proposed").count() == 1
    delta = page.inner_text("#delta")
    assert int(page.inner_text("#delta-gaps")) == baseline - after, delta
    page.click("#add-mode")  # leave add mode
    screenshot(page, screenshots / "app_scenario.png")
    page.click("#undo")
    page.wait_for_function(
        "document.querySelector('#changes-count').textContent.startsWith('0 ')", timeout=WAIT_MS
    )
    settle(page)
    assert shown_gaps(page) == baseline
    assert page.locator("#map .fac-icon .marker-proposed").count() == 0
    page.select_option("#scenario", "")
    settle(page)
    app_page.clean()


def test_print_pdf_has_legend_and_scale(app_page: Watched, screenshots):
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the printed PDF: pip install -e '.[dev]'")
    page = app_page.page
    page.evaluate("window.print = () => { window.__printed = (window.__printed || 0) + 1; }")
    page.select_option("#page-size", "A3")
    page.click("#print")
    page.wait_for_function("window.__printed >= 1", timeout=WAIT_MS)
    assert "print-A3" in page.evaluate("document.body.className")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width_pt, height_pt = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert abs(width_pt - 1190.55) < 2 and abs(height_pt - 841.89) < 2  # A3 landscape
    text = reader.pages[0].extract_text()
    for needed in ("Legend", "Scale", "OpenStreetMap contributors", "census", "SAMPLE", "Date", "N"):
        assert needed in text, needed
    assert re.search(r"\d+\s*k?m\b", text), "no scale bar length in the PDF"
    # the printed page as a picture: A3 landscape at 96 dpi (printing to PDF ended the print layout)
    viewport = page.viewport_size
    page.set_viewport_size({"width": 1587, "height": 1123})
    page.emulate_media(media="print")
    page.evaluate("circlesApp.print.prepare('A3')")
    page.wait_for_timeout(300)
    screenshot(page, screenshots / "print_a3.png")
    page.emulate_media(media="screen")
    page.evaluate("circlesApp.print.restore()")
    page.set_viewport_size(viewport)
    app_page.clean()


def test_docs_render_offline(chromium, live_service):
    w = watch(chromium, live_service)
    try:
        w.page.goto(live_service + "/docs")
        w.page.wait_for_selector(".swagger-ui .info .title", timeout=WAIT_MS)
        assert "circles" in w.page.inner_text(".swagger-ui .info .title")
        assert w.page.locator(".swagger-ui .opblock").count() > 10  # the operations are listed
        w.clean()
        w.page.goto(live_service + "/redoc")
        w.page.wait_for_selector("h1", timeout=WAIT_MS)
        assert "circles" in w.page.inner_text("h1")
        assert w.errors == [] and w.outside == []  # its logo too comes from the service (api.docs_offline)
    finally:
        w.page.context.close()


def test_redoc_makes_no_outside_request(chromium, live_service):
    w = watch(chromium, live_service)
    try:
        w.page.goto(live_service + "/redoc")
        w.page.wait_for_selector("h1", timeout=WAIT_MS)
        w.page.wait_for_load_state("networkidle")
        assert w.outside == []
    finally:
        w.page.context.close()
