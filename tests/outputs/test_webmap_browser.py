"""The coverage map in a real browser: Debian's headless Chromium opens the generated HTML with every
host name unresolvable (so it must work offline), and we check that no JavaScript error occurs, that
Leaflet initialised (container, SVG paths), that the layer control lists the overlays, and that a
screenshot is written.

No selenium: Chromium's own ``--dump-dom`` and ``--screenshot`` modes. JavaScript errors are caught
twice: by a small hook injected at the top of a copy of the page (window ``error`` events, failed
resource loads, unhandled rejections and ``console.error`` are written to an attribute of ``<html>``
that ``--dump-dom`` shows), and from Chromium's console log (``--enable-logging=stderr``).

Run as a script to make a screenshot of any map:
``python tests/test_webmap_browser.py maps/chengdu-central.html docs/map_chengdu-central.png``
"""

from __future__ import annotations

import html
import json
import re
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chromium import CHROMIUM
from circles.outputs.print_render import BROWSER_FLAGS, OFFLINE_FLAG

WINDOW = (1400, 900)
FLAGS = [
    *BROWSER_FLAGS,
    OFFLINE_FLAG,  # no host resolves: the page must not need the network
    "--enable-logging=stderr",
    "--v=0",
]

ERROR_HOOK = """<script>
(function () {
  var errs = [];
  var root = document.documentElement;
  function note(msg) { errs.push(String(msg)); root.setAttribute("data-js-errors", JSON.stringify(errs)); }
  root.setAttribute("data-js-errors", "[]");
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) { note("resource failed: " + (t.src || t.href)); }
    else { note("error: " + e.message + " at " + e.filename + ":" + e.lineno); }
  }, true);
  window.addEventListener("unhandledrejection", function (e) { note("unhandled rejection: " + e.reason); });
  window.addEventListener("load", function () {
    var outside = performance.getEntriesByType("resource").map(function (r) { return r.name; })
      .filter(function (u) { return !/^(data|file|blob):/.test(u); });
    root.setAttribute("data-outside-requests", JSON.stringify(outside));
  });
  var ce = console.error;
  console.error = function () {
    note("console.error: " + Array.prototype.join.call(arguments, " "));
    return ce.apply(console, arguments);
  };
})();
</script>"""
DONE_HOOK = '<script>document.documentElement.setAttribute("data-js-done", "1");</script>'


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def instrument(page: Path, out: Path) -> Path:
    """A copy of ``page`` with the error hook first in ``<head>`` and a marker set by a last script."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"<head>", "<head>\n" + ERROR_HOOK, text, count=1)
    text = text.replace("</html>", DONE_HOOK + "\n</html>") if "</html>" in text else text + DONE_HOOK
    out.write_text(text, encoding="utf-8")
    return out


def run_chromium(
    page: Path, *args: str, window=WINDOW, timeout: float = 120, fragment: str = ""
) -> subprocess.CompletedProcess:
    """Run headless Chromium on ``page`` (``#fragment`` appended: the map's state) with a fresh
    profile; ``args`` add the mode flags."""
    with tempfile.TemporaryDirectory(prefix="circles-chromium-") as profile:
        cmd = [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={window[0]},{window[1]}",
            "--virtual-time-budget=5000",
            *args,
            page.resolve().as_uri() + (f"#{fragment}" if fragment else ""),
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def console_errors(stderr: str) -> list[str]:
    """Console messages from Chromium's log that are errors (uncaught exceptions, *Error)."""
    lines = [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]
    return [ln for ln in lines if re.search(r"Uncaught|Error|error", ln)]


def screenshot(page: Path, png: Path, window=WINDOW) -> Path:
    """Write a PNG screenshot of ``page`` (window size ``window``)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    proc = run_chromium(page, f"--screenshot={png.resolve()}", window=window)
    if proc.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium screenshot failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return png


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


class _Layers(HTMLParser):
    """Label texts (and checked state) inside ``.leaflet-control-layers-overlays``, and whether the
    control sits in the side panel."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0  # >0 while inside the overlays list
        self.in_side = 0
        self.control_in_side = False
        self.labels: list[list] = []  # [text, checked]
        self._label = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if self.in_side:
            self.in_side += 1
        if a.get("id") == "circles-layers":
            self.in_side = 1
        if "leaflet-control-layers" in classes and self.in_side:
            self.control_in_side = True
        if self.depth:
            self.depth += 1
        elif "leaflet-control-layers-overlays" in classes:
            self.depth = 1
        if self.depth and tag == "label":
            self._label = ["", False]
            self.labels.append(self._label)
        if self.depth and tag == "input" and self._label is not None:
            self._label[1] = "checked" in a
            self.depth -= 1  # void element: no end tag

    def handle_endtag(self, tag):
        if self.in_side:
            self.in_side -= 1
        if self.depth:
            self.depth -= 1
            if tag == "label":
                self._label = None

    def handle_data(self, data):
        if self._label is not None:
            self._label[0] += data


def has_class(dom: str, cls: str) -> bool:
    """True when some element of ``dom`` has the class ``cls`` (whole class name)."""
    return re.search(r'class="(?:[^"]*\s)?' + re.escape(cls) + r'(?:\s[^"]*)?"', dom) is not None


def overlay_labels(dom: str) -> list[tuple[str, bool]]:
    p = _Layers()
    p.feed(dom)
    return [(" ".join(t.split()), c) for t, c in p.labels]


# ------------------------------------------------------------------------------------------- tests
pytestmark = pytest.mark.skipif(not chromium_available(), reason=f"chromium not installed ({CHROMIUM})")


@pytest.fixture(scope="module")
def result(default_plan_result):
    return default_plan_result


@pytest.fixture(scope="module")
def map_page(result, tmp_path_factory) -> Path:
    from circles.outputs.webmap import write_map

    return write_map(result, tmp_path_factory.mktemp("browser") / "chengdu-central.html")


@pytest.fixture(scope="module")
def rendered(map_page) -> tuple[str, str]:
    page = instrument(map_page, map_page.with_name("instrumented.html"))
    proc = run_chromium(page, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


def dump(page: Path, fragment: str = "") -> tuple[str, str]:
    """DOM and log of the instrumented ``page`` opened at ``#fragment``."""
    inst = instrument(page, page.with_name(f"instrumented-{abs(hash(fragment))}.html"))
    proc = run_chromium(inst, "--dump-dom", fragment=fragment)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


def js_errors(dom: str) -> list[str]:
    m = re.search(r'<html[^>]*\sdata-js-errors="([^"]*)"', dom)
    assert m, "error hook did not run"
    return json.loads(html.unescape(m.group(1)))


def headline(dom: str) -> tuple[int, int]:
    m = re.search(r'id="circles-answer">.*?<b class="big">(\d+) / (\d+)</b>', dom, re.S)
    assert m, "no headline"
    return int(m.group(1)), int(m.group(2))


def marker_paths(dom: str) -> list[dict[str, str]]:
    """Attributes of the facility markers Leaflet drew (SVG paths of class circles-marker)."""
    return [
        dict(re.findall(r'([\w-]+)="([^"]*)"', m))
        for m in re.findall(r"<path\b([^>]*circles-marker[^>]*)>", dom)
    ]


def expected_gaps(result, key: str, minutes: int, rows=None) -> tuple[int, int]:
    cov = result.coverage[result.coverage["category"] == key]
    if rows is not None:
        cov = cov[cov["community_row"].isin(rows)]
    lacking = cov["applies"] & (cov[f"share_{minutes}"] < cov["target_share"] - 1e-9)
    return int(lacking.sum()), int(cov["applies"].sum())


def test_no_javascript_errors_and_no_outside_request(rendered):
    dom, log = rendered
    assert js_errors(dom) == []
    assert console_errors(log) == []
    assert re.search(r'<html[^>]*\sdata-js-done="1"', dom), "the page's scripts did not all run"
    assert re.search(r'<html[^>]*\sdata-circles-map="ready"', dom), "the map's last script did not run"
    m = re.search(r'<html[^>]*\sdata-outside-requests="([^"]*)"', dom)
    assert m and json.loads(html.unescape(m.group(1))) == []


def test_leaflet_initialised_and_draws_one_category(result, rendered):
    dom, _ = rendered
    assert has_class(dom, "leaflet-container")
    assert has_class(dom, "leaflet-map-pane")
    assert not has_class(dom, "leaflet-tile")  # no tile layer, no tile requests
    n_paths = len(re.findall(r"<path\b", dom))
    n_markers = int((result.data.facilities["category"] == "canteen").sum())
    # every community polygon, the 10-minute area and the canteen markers are SVG paths
    assert n_paths >= len(result.data.communities) + 1 + n_markers, n_paths
    assert len(marker_paths(dom)) == n_markers  # only the shown category's facilities
    assert has_class(dom, "leaflet-control-scale")
    assert "© OpenStreetMap contributors" in html.unescape(re.sub(r"<[^>]+>", "", dom))
    assert headline(dom) == expected_gaps(result, "canteen", 10)


def test_layer_control_holds_only_context_layers(rendered):
    from circles.outputs.webmap import DISTRICTS_LAYER, STREETS_LAYER

    dom, _ = rendered
    assert has_class(dom, "leaflet-control-layers")
    p = _Layers()
    p.feed(dom)
    assert p.control_in_side, "layer control not moved into the side panel"
    assert overlay_labels(dom) == [(STREETS_LAYER, True), (DISTRICTS_LAYER, True)]


def test_switching_category_and_time_redraws_and_updates_headline(result, map_page):
    """Opening at #cat=park&min=15 (what the radio buttons set): park's markers only, its headline
    (no canteen figures left), legend swatches in park's colour."""
    dom, log = dump(map_page, "cat=park&min=15")
    assert js_errors(dom) == [] and console_errors(log) == []
    assert re.search(r'data-circles-cat="park"', dom) and re.search(r'data-circles-min="15"', dom)
    assert headline(dom) == expected_gaps(result, "park", 15)
    answer = re.search(r'id="circles-answer">(.*?)</div>', dom, re.S).group(1)
    assert "公园绿地 Park" in answer and "社区食堂" not in answer and "15分钟步行内未达标" in answer
    n_park = int((result.data.facilities["category"] == "park").sum())
    assert len(marker_paths(dom)) == n_park
    assert re.search(r'<input type="radio" name="circles-cat" value="park"[^>]*>', dom)


def test_markers_drawn_as_the_legend_says(result, map_page):
    """Each marker path Leaflet drew has the fill, ring and dashes of the legend swatch of its kind."""
    for fragment, kind in (("cat=canteen", "sample"), ("cat=park", "osm")):
        dom, _ = dump(map_page, fragment)
        paths = marker_paths(dom)
        assert paths and all(f"circles-marker-{kind}" in p["class"] for p in paths)
        legend = re.search(rf'<svg class="marker" data-src="{kind}"[^>]*><circle ([^>]*)>', dom)
        assert legend, kind
        swatch = dict(re.findall(r'([\w-]+)="([^"]*)"', legend.group(1)))
        for attr in ("stroke", "stroke-width", "fill", "fill-opacity", "stroke-linecap"):
            assert {p[attr] for p in paths} == {swatch[attr]}, (kind, attr)
        assert {p.get("stroke-dasharray") for p in paths} == {swatch.get("stroke-dasharray")}
        if kind == "sample":
            assert swatch["fill"] == "#ffffff" and swatch["stroke-dasharray"]
        else:
            assert swatch["fill"] != "#ffffff" and float(swatch["fill-opacity"]) == 1.0


def test_district_filter(result, map_page):
    district = "成华区"
    rows = result.data.communities.reset_index(drop=True).index[
        result.data.communities["district"].to_numpy() == district
    ]
    assert len(rows)
    dom, _ = dump(map_page, f"cat=canteen&min=10&district={district}")
    assert headline(dom) == expected_gaps(result, "canteen", 10, set(rows))
    assert district in re.search(r'id="circles-answer">(.*?)</div>', dom, re.S).group(1)
    assert re.search(r'<table class="groups">', dom)


def test_screenshot_written(map_page, tmp_path):
    png = screenshot(map_page, tmp_path / "map.png")
    assert png_size(png) == WINDOW
    assert png.stat().st_size > 20_000  # not a blank page


if __name__ == "__main__":  # python tests/test_webmap_browser.py MAP.html OUT.png
    sys.exit(print(screenshot(Path(sys.argv[1]), Path(sys.argv[2]))))
