"""The coverage map's page around the map: the side panel (title, the one-line answer for the shown
category, legend, layer control, notes), its stylesheet, Leaflet inlined so the page works offline,
and the script run once the layers exist."""

from __future__ import annotations

import base64
import logging
import re
import tomllib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from branca.element import MacroElement
from jinja2 import Template

from .. import OSM_ATTRIBUTION, __version__
from ..errors import InputError
from .webmap_layers import community_table
from .webmap_style import GAP_OUTLINE, LEVEL_COLOURS, NA_COLOUR, SHARE_CLASSES, category_colour, esc, pct

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Category
    from ..config import Region
    from ..pipeline import PlanResult
    from .webmap_tiles import TileSpec

__all__ = [
    "CSS_TEMPLATE",
    "STATIC_DIR",
    "AfterLayers",
    "leaflet_assets",
    "sidebar_html",
    "unescape_non_ascii",
]

log = logging.getLogger(__name__)

#: Leaflet 1.9.4 (BSD-2-Clause), inlined into every page.
STATIC_DIR = Path(__file__).resolve().parent / "static" / "leaflet"


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS, the CSS's images inlined as data URIs."""
    try:
        js = (STATIC_DIR / "leaflet.js").read_text(encoding="utf-8")
        css = (STATIC_DIR / "leaflet.css").read_text(encoding="utf-8")
    except FileNotFoundError as e:  # pragma: no cover - packaging error
        raise InputError(f"Leaflet assets missing ({e.filename}); reinstall circles") from e

    def data_uri(m: re.Match[str]) -> str:
        img = STATIC_DIR / m.group(1)
        if not img.exists():
            return m.group(0)
        return f"url(data:image/png;base64,{base64.b64encode(img.read_bytes()).decode('ascii')})"

    css = re.sub(r"url\((images/[a-z0-9\-]+\.png)\)", data_uri, css)
    return js.replace("</script", "<\\/script"), css


class AfterLayers(MacroElement):
    """Script run after the layer control exists: add the OSM attribution and a metric scale bar
    (folium's ``control_scale`` adds feet too), and move the layer control into the side panel."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            map.attributionControl.addAttribution({{ this.attribution|tojson }});
            L.control.scale({imperial: false, maxWidth: 160, position: "bottomleft"}).addTo(map);
            var host = document.getElementById("circles-layers");
            var ctl = document.querySelector("#{{ this._parent.get_name() }} .leaflet-control-layers");
            if (host && ctl) { host.appendChild(ctl); }
            document.documentElement.setAttribute("data-circles-map", "ready");
        })();
        {% endmacro %}
        """
    )

    def __init__(self, attribution: str) -> None:
        super().__init__()
        self._name = "CirclesAfterLayers"
        self.attribution = attribution


#: The page's stylesheet; ``%(map)s`` is the map element's id, ``%(w)d`` the side panel's width (px).
CSS_TEMPLATE = """
html, body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "Helvetica Neue", Arial, sans-serif; }
#%(map)s { position: absolute !important; left: %(w)dpx !important; top: 0 !important; right: 0 !important;
  bottom: 0 !important; width: auto !important; height: auto !important; }
.leaflet-container { background: #f4f3ef; }
#circles-side { position: absolute; left: 0; top: 0; bottom: 0; width: %(w)dpx; box-sizing: border-box;
  overflow-y: auto; padding: 10px 12px; background: #fff; border-right: 1px solid #ccc; font-size: 12.5px;
  line-height: 1.35; color: #222; z-index: 1000; }
#circles-side h1 { font-size: 16px; margin: 0 0 2px; }
#circles-side h1 small { display: block; font-size: 12px; font-weight: normal; color: #555; }
#circles-side h2 { font-size: 13px; margin: 10px 0 4px; border-bottom: 1px solid #ddd; padding-bottom: 2px; }
#circles-side .region { color: #333; margin: 4px 0; }
#circles-side .answer { background: #fff3f0; border-left: 4px solid #a50026; padding: 6px 8px; margin: 8px 0; }
#circles-side .answer b.big { font-size: 15px; color: #a50026; }
#circles-side .note { color: #555; font-size: 11.5px; margin: 3px 0; }
#circles-side .sample { color: #c00; font-weight: bold; }
#circles-side .attr { margin-top: 8px; font-size: 11.5px; }
.circles-legend .row { display: flex; align-items: center; margin: 2px 0; }
.circles-legend .sw { width: 18px; height: 12px; margin-right: 6px; flex: none; box-sizing: border-box; }
.circles-legend .dot { width: 12px; height: 12px; border-radius: 50%%; margin: 0 9px 0 3px; flex: none; box-sizing: border-box; }
#circles-layers .leaflet-control-layers { box-shadow: none; border: 1px solid #ddd; margin: 0; float: none; }
#circles-layers .leaflet-control-layers-list { font-size: 12px; }
#circles-layers .leaflet-control-layers-scrollbar { overflow-y: visible; height: auto !important; padding-right: 6px; }
#circles-layers label { margin: 1px 0; }
.leaflet-tooltip { font-size: 12px; line-height: 1.4; white-space: normal; width: max-content; max-width: 380px; }
.leaflet-popup-content { font-size: 12.5px; line-height: 1.4; }
.leaflet-tooltip.circles-district-label { background: rgba(255,255,255,0.6); border: 0; box-shadow: none;
  color: #555; font-size: 12px; font-weight: bold; padding: 0 3px; }
.leaflet-tooltip.circles-district-label::before { display: none; }
@media (max-width: 760px) {
  #circles-side { width: 100%%; bottom: auto; height: 42vh; border-right: 0; border-bottom: 1px solid #ccc; }
  #%(map)s { left: 0 !important; top: 42vh !important; }
}
"""  # noqa: E501 (one rule per line)


def _data_year(region: Region) -> int | None:
    """Year of the region's OSM data: ``data_year`` of the region (or of its entry in the project's
    regions.toml), else a year named in its source."""
    year = getattr(region, "data_year", None)
    if year:
        return int(year)
    try:  # regions.toml carries data_year even when Region does not
        from ..config import project_data_dir

        with open(project_data_dir() / "regions.toml", "rb") as f:
            year = tomllib.load(f).get(region.key, {}).get("data_year")
        if year:
            return int(year)
    except Exception as e:
        log.debug("no data year for region %s: %s", region.key, e)
    m = re.search(r"(19|20)\d\d", getattr(region, "source", "") or "")
    return int(m.group(0)) if m else None


def _legend_html(minutes: int, targets: str, weight_kind: str, shown_colour: str) -> str:
    """The legend: share classes, gap outline, service-area levels, facility markers, weighting."""
    rows = []
    for _, colour, label in SHARE_CLASSES:
        rows.append(f'<div class="row"><span class="sw" style="background:{colour}"></span>{label}</div>')
    rows.append(
        f'<div class="row"><span class="sw" style="background:{NA_COLOUR}"></span>不适用 not required</div>'
    )
    gap = (
        f'<div class="row"><span class="sw" style="background:#f46d43;border:2.5px solid {GAP_OUTLINE}">'
        f"</span>黑框 = 缺口：{minutes}分钟内覆盖率低于目标 "
        f"black outline = gap: share within {minutes} min below target ({targets})</div>"
        f'<div class="row"><span class="sw" style="background:#1a9850;border:1.5px solid #999"></span>'
        f"白框 = 已达标 white outline = meets target</div>"
    )
    levels = "".join(
        f'<div class="row"><span class="sw" style="background:{c}33;border:1.5px solid {c}"></span>'
        f"{lv}分钟步行可达范围 area within {lv} min walk</div>"
        for lv, c in LEVEL_COLOURS.items()
    )
    markers = (
        f'<div class="row"><span class="dot" '
        f'style="background:{shown_colour};border:2px solid {shown_colour}"></span>'
        f"实心 = OSM 观测设施 filled = observed (OSM)</div>"
        f'<div class="row"><span class="dot" style="background:#fff;border:2px dashed {shown_colour}"></span>'
        f'<span><span class="sample">空心虚线 = 示例数据 SAMPLE</span>, '
        f"not observed (hollow, dashed)</span></div>"
        f'<div class="row"><span class="dot" style="background:{shown_colour};border:2.5px solid #000">'
        f"</span>黑边 = 用户数据 black ring = user-supplied</div>"
    )
    if weight_kind == "area":
        weighting = (
            "覆盖率按居住用地面积加权，不是人数（无人口数据）。Shares are AREA-weighted (m² of residential "
            "land), not people: no population data was given."
        )
    else:
        weighting = f"覆盖率按居民人数加权 Shares are weighted by residents ({esc(weight_kind)})."
    return (
        f'<div class="circles-legend"><h2>图例 Legend</h2>'
        f"<div><b>社区覆盖率 Community covered share</b> — {minutes}分钟内可达的比例 "
        f"share reaching the category within {minutes} min</div>"
        f"{''.join(rows)}{gap}"
        f'<div style="margin-top:5px"><b>服务范围 Service areas</b> (街道网络 street network)</div>{levels}'
        f'<div style="margin-top:5px"><b>设施 Facilities</b> (点击查看 click for details)</div>{markers}'
        f'<p class="note"><b>加权 Weighting:</b> {weighting}</p></div>'
    )


def _answer_html(result: PlanResult, cat: Category, minutes: int) -> str:
    """The one-line answer for the shown category: how many communities lack it within ``minutes``."""
    tab = community_table(result, cat.key, minutes)
    app = tab[tab["applies"]]
    n, n_gap, n_zero = len(app), int(app["gap"].sum()), int((app["share"] < 0.005).sum())
    w = app["weight"].fillna(0).to_numpy()
    share = float((app["share"].fillna(0) * w).sum() / w.sum()) if w.sum() > 0 else float("nan")
    basis = "居住用地面积 residential area" if result.data.weight_kind == "area" else "居民 residents"
    nfac = result.data.facilities
    nfac = nfac[nfac["category"] == cat.key]
    n_sample = int((nfac["source"] == "sample").sum())
    fac_txt = f"{len(nfac)} 个设施 facilities" + (
        f', <span class="sample">其中 {n_sample} 个为示例数据 SAMPLE</span>' if n_sample else ""
    )
    return (
        f'<div class="answer">打开时显示 Shown: <b>{esc(cat.name_zh)} {esc(cat.name_en)}</b><br>'
        f'<b class="big">{n_gap} / {n}</b> 个社区{minutes}分钟步行内未达标（黑框）'
        f"communities lack it within a {minutes}-min walk (black outline); "
        f"<b>{n_zero}</b> 个完全没有 have none at all (dark red).<br>"
        f"{minutes}分钟覆盖 {basis} covered: <b>{pct(share)}</b>. {fac_txt}.</div>"
    )


def sidebar_html(result: PlanResult, cats: list[Category], minutes: int, tile: TileSpec | None) -> str:
    """The side panel: title, region and data, the answer for ``cats[0]`` (the category shown when
    the page opens), legend, a host for the layer control, notes and attribution."""
    region = result.data.region
    year = _data_year(region)
    year_txt = f"{year} " if year else ""
    shown = cats[0]
    targets = sorted({f"{100 * t:.0f}%" for t in result.coverage["target_share"].dropna().unique()})
    notes = "".join(f'<p class="note">• {esc(n)}</p>' for n in result.data.notes)
    n_sample = int((result.data.facilities["source"] == "sample").sum())
    sample_txt = (
        (
            f'<p class="note sample">{n_sample} 个设施为示例数据 facilities are SAMPLE data, not observed '
            f"(空心虚线标记 hollow dashed markers).</p>"
        )
        if n_sample
        else ""
    )
    base = (
        (
            f"底图 Base map: {esc(tile.name)}"
            + (" — 矢量图层已转换为 GCJ-02 vector layers shifted to GCJ-02" if tile.gcj02 else "")
        )
        if tile
        else "无底图（离线）No base map (works offline)"
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    legend = _legend_html(
        minutes, "/".join(targets) or "—", result.data.weight_kind, category_colour(shown.key, 0)
    )
    return (
        f'<div id="circles-side">'
        f"<h1>15分钟社区生活圈 设施覆盖图<small>15-minute community life circle — coverage map</small></h1>"
        f'<div class="region"><b>{esc(region.name_zh)}</b><br>{esc(region.name_en)}</div>'
        f'<div class="note">数据 Data: OpenStreetMap {year_txt}(© OpenStreetMap contributors, ODbL) '
        f"· {base}</div>"
        f"{_answer_html(result, shown, minutes)}"
        f"{legend}"
        f'<h2>图层 Layers</h2><p class="note">勾选查看其他设施类别 tick to show other categories</p>'
        f'<div id="circles-layers"></div>'
        f"<h2>说明 Notes</h2>{sample_txt}{notes}"
        f'<p class="note">circles {__version__} · {generated}</p>'
        f'<p class="attr">{OSM_ATTRIBUTION} (ODbL) · Leaflet (BSD-2-Clause)</p>'
        f"</div>"
    )


_U_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def unescape_non_ascii(page: str) -> str:
    """``\\u4e2d`` -> ``中`` in JSON/JS string literals; ASCII escapes (``\\u003c`` keeps ``</script>``
    out of scripts), surrogates and U+2028/2029 stay escaped; escaped backslashes are respected."""

    def rep(m: re.Match[str]) -> str:
        cp = int(m.group(2), 16)
        if cp < 0x80 or 0xD800 <= cp <= 0xDFFF or cp in (0x2028, 0x2029):
            return m.group(0)
        return m.group(1) + chr(cp)

    return _U_ESCAPE.sub(rep, page)
