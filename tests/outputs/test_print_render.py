"""The print layout rendered headless with the system Chromium (skipped without one): a one-page A4
landscape PDF whose text has the title, legend, scale, © OpenStreetMap, sample-data note and date;
a PNG of the page size; no request leaves the machine; and a clear one-line error without Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chromium import CHROMIUM_PATH
from circles.errors import InputError
from circles.outputs.print_render import (
    ChromiumNotFoundError,
    find_chromium,
    paper_px,
    print_url,
    render_pdf,
    render_png,
)

HAS_CHROMIUM = CHROMIUM_PATH is not None
needs_chromium = pytest.mark.skipif(
    not HAS_CHROMIUM, reason="no chromium installed (Debian: apt install chromium)"
)
#: Chromium's own background services (update checks, account list): blocked like every host, and
#: not requests of the page.
BROWSER_HOSTS = re.compile(r"(^|\.)(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)$")


@pytest.fixture(scope="module")
def map_page(default_plan_result, tmp_path_factory) -> Path:
    from circles.outputs.webmap import write_map

    return write_map(default_plan_result, tmp_path_factory.mktemp("print") / "map.html")


@pytest.fixture(scope="module")
def pdf_and_netlog(map_page) -> tuple[Path, Path]:
    netlog = map_page.with_name("net.json")
    pdf = render_pdf(map_page, map_page.with_name("out") / "map.pdf", extra=[f"--log-net-log={netlog}"])
    return pdf, netlog


def test_paper_and_url(map_page):
    assert paper_px("a4") == (1123, 794) and paper_px("A3") == (1587, 1123)
    assert print_url(map_page, "a3", "cat=park").endswith("map.html#print=a3&cat=park")
    with pytest.raises(InputError, match="paper"):
        paper_px("letter")


def test_no_chromium_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("CIRCLES_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(ChromiumNotFoundError) as e:
        find_chromium()
    msg = str(e.value)
    assert "\n" not in msg and "no Chromium found" in msg and "CIRCLES_CHROMIUM" in msg
    assert isinstance(e.value, InputError)


@needs_chromium
def test_pdf_has_legend_scale_and_sources(default_plan_result, pdf_and_netlog):
    pypdf = pytest.importorskip("pypdf")
    pdf, _ = pdf_and_netlog
    reader = pypdf.PdfReader(str(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 841.9) < 2 and abs(float(box.height) - 595.3) < 2  # A4 landscape, pt
    text = reader.pages[0].extract_text()
    flat = " ".join(text.split())
    for needle in (
        "图例 Legend",
        "比例尺 Scale",
        "© OpenStreetMap contributors",
        "2020 census",
        "SAMPLE data",
        "制图日期 Date",
        "N 北",
        "社区食堂 Community canteen",
        default_plan_result.data.region.name_zh,
    ):
        assert needle in flat, needle
    assert re.search(r"\d+ (k?m)\b", flat)  # Leaflet's scale bar
    assert re.search(r"1:\d[\d,]*", flat)  # the scale ratio
    assert "打印 Print" not in flat and "设施类别 Category" not in flat  # the side panel is not printed


def outside_requests(netlog: Path) -> list[str]:
    """http(s)/ws URLs in Chromium's network log, less Chromium's own background services."""
    urls = set(re.findall(r'"url":"([^"]+)"', netlog.read_text(encoding="utf-8", errors="replace")))
    return sorted(
        u
        for u in urls
        if urlsplit(u).scheme in ("http", "https", "ws", "wss")
        and not BROWSER_HOSTS.search(urlsplit(u).hostname or "")
    )


@needs_chromium
def test_no_outside_request(pdf_and_netlog, tmp_path):
    """Chromium's network log of the print run: the page requested nothing from the network. (The
    check sees a page's requests: a page with one outside image shows it.)"""
    _, netlog = pdf_and_netlog
    assert '"events"' in netlog.read_text(encoding="utf-8", errors="replace")
    assert outside_requests(netlog) == []
    probe = tmp_path / "probe.html"
    probe.write_text('<html><body><img src="https://tile.openstreetmap.org/1/1/1.png"></body></html>')
    render_pdf(probe, tmp_path / "probe.pdf", extra=[f"--log-net-log={tmp_path / 'probe.json'}"])
    assert outside_requests(tmp_path / "probe.json") == ["https://tile.openstreetmap.org/1/1/1.png"]


@needs_chromium
def test_png_of_a3_page(map_page, tmp_path):
    from PIL import Image

    png = render_png(map_page, tmp_path / "a3.png", paper="a3", view="cat=park&min=15")
    with Image.open(png) as im:
        assert im.size == paper_px("a3")
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours and len(colours) > 50  # a drawn map, not a blank page


@needs_chromium
def test_cli_map_pdf(tmp_path, chengdu_osm):
    from typer.testing import CliRunner

    from circles.cli import app

    runner = CliRunner()
    pdf = tmp_path / "map.pdf"
    res = runner.invoke(app, ["map", "--category", "canteen", "--pdf", str(pdf)])
    assert res.exit_code == 0, res.output
    assert pdf.read_bytes()[:5] == b"%PDF-" and "map.pdf" in res.output


def test_cli_map_without_chromium_fails_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from circles.cli import app

    monkeypatch.setenv("CIRCLES_CHROMIUM", "/nonexistent/chromium")
    res = CliRunner().invoke(app, ["map", "--png", str(tmp_path / "m.png")])
    assert res.exit_code != 0 and "no Chromium found" in res.output
    assert not (tmp_path / "m.png").exists()
    res = CliRunner().invoke(app, ["map"])
    assert res.exit_code != 0 and "--pdf" in res.output
    json.dumps(res.output)  # one readable message
