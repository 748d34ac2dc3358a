"""The coverage map's page around the map: the side panel (title, category and walking-time
switchers, area filter, the headline for the shown category, legend, base-map control, notes), the
print frame (title, legend, north arrow, scale, sources, date), Leaflet and the page's own script and
stylesheet inlined so the page works offline, and the script run once the layers exist."""

from __future__ import annotations

import base64
import json
import logging
import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from branca.element import MacroElement
from jinja2 import Template

from .. import OSM_ATTRIBUTION, __version__
from ..catalog import LEVELS_MIN
from ..errors import InputError
from ..io.districts import CENSUS_SOURCE
from .plan_files import measure_note
from .webmap_style import (
    GAP_OUTLINE,
    LEVEL_COLOURS,
    MARKER_LABELS,
    MARKER_SOURCES,
    NA_COLOUR,
    SHARE_CLASSES,
    esc,
    marker_svg,
    pct,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Region
    from ..pipeline import PlanResult
    from .webmap_tiles import TileSpec

__all__ = [
    "ANSWER_TEMPLATE",
    "HEADLINE_TEXT",
    "PAGE_DIR",
    "STATIC_DIR",
    "AfterLayers",
    "data_script",
    "fill_template",
    "headline_html",
    "headline_text",
    "leaflet_assets",
    "legend_html",
    "page_assets",
    "print_frame_html",
    "sidebar_html",
    "unescape_non_ascii",
]

log = logging.getLogger(__name__)

#: Leaflet 1.9.4 (BSD-2-Clause), inlined into every page.
STATIC_DIR = Path(__file__).resolve().parent / "static" / "leaflet"
#: The page's own script and stylesheet (``circles_map.js``, ``circles_map.css``), inlined too.
PAGE_DIR = STATIC_DIR.parent


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


@lru_cache(maxsize=1)
def page_assets() -> tuple[str, str]:
    """The map page's own script (``static/circles_map.js``: switcher, filter, headline, legend, print
    mode) and stylesheet (``static/circles_map.css``)."""
    try:
        js = (PAGE_DIR / "circles_map.js").read_text(encoding="utf-8")
        css = (PAGE_DIR / "circles_map.css").read_text(encoding="utf-8")
    except FileNotFoundError as e:  # pragma: no cover - packaging error
        raise InputError(f"map page assets missing ({e.filename}); reinstall circles") from e
    return js.replace("</script", "<\\/script"), css


def data_script(data: dict[str, Any]) -> str:
    """``data`` as a ``<script type="application/json" id="circles-data">`` element: compact UTF-8
    JSON with every ``<`` escaped (so no ``</script>`` or ``<!--`` can end it early)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace(
        "<", "\\u003c"
    )
    return f'<script type="application/json" id="circles-data">{text}</script>'


class AfterLayers(MacroElement):
    """Script run after the layer control exists: add the OSM attribution and a metric scale bar
    (folium's ``control_scale`` adds feet too), move the layer control (base map and context layers)
    into the side panel, and start the page's script on the data in ``#circles-data``."""

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
            var data = JSON.parse(document.getElementById("circles-data").textContent);
            window.circlesMap(map, data);
            document.documentElement.setAttribute("data-circles-map", "ready");
        })();
        {% endmacro %}
        """
    )

    def __init__(self, attribution: str) -> None:
        super().__init__()
        self._name = "CirclesAfterLayers"
        self.attribution = attribution


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


# ------------------------------------------------------------------------------------------ legend
def legend_html(
    minutes: int,
    targets: str,
    weight_kind: str,
    markers: dict[str, dict[str, object]],
    reach: Mapping[str, str] | None = None,
) -> str:
    """The legend: share classes, gap outline, service-area levels, facility markers (drawn by
    :func:`~.webmap_style.marker_svg` from ``markers``, the shown category's marker styles: the same
    options the markers are drawn with), weighting. ``reach``: a distance plan's level names by their
    metres (``{"5": "300 m", ...}``; None: minutes). The page's script redraws it on every switch."""
    rows = [
        f'<div class="row"><span class="sw" style="background:{colour}"></span>{label}</div>'
        for _, colour, label in SHARE_CLASSES
    ]
    rows.append(
        f'<div class="row"><span class="sw" style="background:{NA_COLOUR}"></span>不适用 not required</div>'
    )
    shown = f'<span class="lg-min">{reach[str(minutes)] if reach else minutes}</span>'
    within_zh, within_en = (
        (f"步行{shown}内", f"within {shown} walk") if reach else (f"{shown}分钟内", f"within {shown} min")
    )
    gap = (
        f'<div class="row"><span class="sw" style="background:#f46d43;border:2.5px solid {GAP_OUTLINE}">'
        f"</span><span>黑框 = 缺口：{within_zh}覆盖率低于目标 "
        f"black outline = gap: share {within_en} below target "
        f"({targets})</span></div>"
        f'<div class="row"><span class="sw" style="background:#1a9850;border:1.5px solid #999"></span>'
        f"白框 = 已达标 white outline = meets target</div>"
    )
    levels = "".join(
        f'<div class="row lv" data-min="{lv}">'
        f'<span class="sw" style="background:{c}33;border:1.5px solid {c}"></span>'
        + (
            f"步行{reach[str(lv)]}可达范围 area within {reach[str(lv)]} walk</div>"
            if reach
            else f"{lv}分钟步行可达范围 area within {lv} min walk</div>"
        )
        for lv, c in LEVEL_COLOURS.items()
    )
    marks = "".join(
        f'<div class="row mk" data-src="{src}">{marker_svg(markers[src], src)}'
        f"<span>{MARKER_LABELS[src]}</span></div>"
        for src in MARKER_SOURCES
    )
    if weight_kind == "area":
        weighting = (
            "覆盖率按居住用地面积加权，不是人数（无人口数据）。Shares are AREA-weighted (m² of residential "
            "land), not people: no population data was given."
        )
    else:
        weighting = f"覆盖率按居民人数加权 Shares are weighted by residents ({esc(weight_kind)})."
    return (
        f'<div class="circles-legend" id="circles-legend"><h2>图例 Legend</h2>'
        f"<div><b>社区覆盖率 Community covered share</b> — {within_zh}可达的比例 "
        f"share reaching the category {within_en}</div>"
        f"{''.join(rows)}{gap}"
        f'<div style="margin-top:5px"><b>服务范围 Service areas</b> (街道网络 street network)</div>{levels}'
        f'<div style="margin-top:5px"><b>设施 Facilities</b> (点击查看 click for details)</div>{marks}'
        f'<p class="note"><b>加权 Weighting:</b> {weighting}</p></div>'
    )


# ---------------------------------------------------------------------------------------- headline
#: The headline for the shown category, level and area; ``{name}`` fields are filled by
#: :func:`fill_template` here and by the page's script (which gets this text in its data) on every
#: switch, so both say the same.
ANSWER_TEMPLATE = (
    "显示 Shown: <b>{category}</b>{where}<br>"
    '<b class="big">{n_gap} / {n}</b> 个社区{minutes}分钟步行内未达标（黑框）'
    "communities lack it within a {minutes}-min walk (black outline); "
    "<b>{n_zero}</b> 个完全没有 have none at all (dark red).<br>"
    "{minutes}分钟覆盖 {basis} covered: <b>{share}</b>.{residents} {facilities}."
)
#: The headline of a distance plan: the level named by its network walking distance (``{reach}``, e.g.
#: "300 m"; :func:`headline_text`).
DISTANCE_ANSWER_TEMPLATE = (
    "显示 Shown: <b>{category}</b>{where}<br>"
    '<b class="big">{n_gap} / {n}</b> 个社区步行{reach}内未达标（黑框）'
    "communities lack it within a {reach} walk (black outline); "
    "<b>{n_zero}</b> 个完全没有 have none at all (dark red).<br>"
    "步行{reach}内覆盖 {basis} covered within {reach}: <b>{share}</b>.{residents} {facilities}."
)
#: Parts of the headline, filled the same way.
HEADLINE_TEXT = {
    "answer": ANSWER_TEMPLATE,
    "where": " · 范围 area: {where}",
    "residents": " 缺口社区居民 Residents of gap communities: <b>{residents}</b>{est}.",
    "est": " (人口普查估算 census estimate)",
    "facilities": "{n} 个设施 facilities",
    "sample": ', <span class="sample">其中 {n} 个为示例数据 SAMPLE</span>',
    "basis_area": "居住用地面积 residential area",
    "basis_people": "居民 residents",
}
_FIELD = re.compile(r"\{(\w+)\}")


def headline_text(measure: str) -> dict[str, str]:
    """The headline's texts for a plan of ``measure``: :data:`HEADLINE_TEXT`, with the answer naming the
    level by its distance (:data:`DISTANCE_ANSWER_TEMPLATE`) under ``distance``."""
    return {**HEADLINE_TEXT, "answer": DISTANCE_ANSWER_TEMPLATE} if measure == "distance" else HEADLINE_TEXT


def fill_template(template: str, values: dict[str, object]) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]`` (unknown names stay)."""
    return _FIELD.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def headline_html(
    cat: dict[str, Any],
    info: dict[str, list[Any]],
    minutes: int,
    weight_kind: str,
    where: str = "",
    *,
    text: Mapping[str, str] = HEADLINE_TEXT,
    reach: Mapping[str, str] | None = None,
) -> str:
    """The headline for category data ``cat`` (see :func:`~.webmap_layers.coverage_columns`, plus
    ``zh``/``en``/``nFac``/``nSample``) over every community in ``info`` at the level ``minutes``;
    ``text``: the headline texts (:func:`headline_text`), ``reach``: a distance plan's level names
    (``{"5": "300 m", ...}``)."""
    m = str(minutes)
    n = n_gap = n_zero = 0
    w_sum = ws_sum = res_gap = 0.0
    est = False
    zero_upper = SHARE_CLASSES[0][0]
    for i, applies in enumerate(cat["applies"]):
        if not applies:
            continue
        n += 1
        share, w = cat["share"][m][i], cat["weight"][i] or 0.0
        n_zero += int(share is not None and share < zero_upper)
        w_sum += w
        ws_sum += (share or 0.0) * w
        if cat["gap"][m][i]:
            n_gap += 1
            if info["residents"][i] is not None:
                res_gap += info["residents"][i]
                est = est or bool(info["residentsEst"][i])
    t = text
    has_res = any(v is not None for v in info["residents"])
    fac = fill_template(t["facilities"], {"n": cat["nFac"]})
    if cat["nSample"]:
        fac += fill_template(t["sample"], {"n": cat["nSample"]})
    values: dict[str, object] = {
        "category": f"{esc(cat['zh'])} {esc(cat['en'])}",
        "where": fill_template(t["where"], {"where": esc(where)}) if where else "",
        "n_gap": n_gap,
        "n": n,
        "minutes": minutes,
        "reach": reach[m] if reach else minutes,
        "n_zero": n_zero,
        "basis": t["basis_area"] if weight_kind == "area" else t["basis_people"],
        "share": pct(ws_sum / w_sum if w_sum > 0 else float("nan")),
        "residents": (
            fill_template(
                t["residents"],
                {
                    "residents": f"~{res_gap:,.0f}" if est else f"{res_gap:,.0f}",
                    "est": t["est"] if est else "",
                },
            )
            if has_res
            else ""
        ),
        "facilities": fac,
    }
    return fill_template(t["answer"], values)


# ------------------------------------------------------------------------------------ side panel
def _switcher_html(
    cats: list[dict[str, Any]], shown: str, minutes: int, reach: Mapping[str, str] | None = None
) -> str:
    """One category at a time (radio buttons) and one walking time (5/10/15 min) or, in a distance
    plan (``reach``), one walking distance (300 m / 500 m / 1000 m)."""
    rows = "".join(
        f'<label><input type="radio" name="circles-cat" value="{esc(c["key"])}"'
        f"{' checked' if c['key'] == shown else ''}>"
        f'<span class="dot" style="background:{c["colour"]}"></span>'
        f'<span class="cn">{esc(c["zh"])} <small>{esc(c["en"])}</small></span>'
        f'<span class="n" data-key="{esc(c["key"])}"></span></label>'
        for c in cats
    )
    mins = "".join(
        f'<label><input type="radio" name="circles-min" value="{lv}"{" checked" if lv == minutes else ""}>'
        + (f"{reach[str(lv)]}</label>" if reach else f"{lv} 分钟 min</label>")
        for lv in LEVELS_MIN
    )
    title = "步行距离 Walking distance" if reach else "步行时间 Walking time"
    return (
        "<h2>设施类别 Category <small>一次一类 one at a time · 缺口/社区 gaps/communities</small></h2>"
        f'<div id="circles-cats" class="switcher" role="radiogroup">{rows}</div>'
        f"<h2>{title}</h2>"
        f'<div id="circles-minutes" class="switcher minutes" role="radiogroup">{mins}</div>'
    )


def _filter_html(info: dict[str, list[Any]]) -> str:
    """District (区) and, where the communities name them, 街道 filters; empty without districts."""
    districts = sorted({d for d in info["district"] if d})
    if not districts:
        return ""
    opts = "".join(f'<option value="{esc(d)}">{esc(d)}</option>' for d in districts)
    street = (
        '<select id="circles-street" title="街道 Sub-district">'
        '<option value="">全部街道 all 街道</option></select>'
        if any(info["street"])
        else ""
    )
    return (
        "<h2>范围 Area</h2>"
        f'<div class="filter"><select id="circles-district" title="区 District">'
        f'<option value="">全部区 all districts</option>{opts}</select>{street}</div>'
    )


def sidebar_html(result: PlanResult, data: dict[str, Any], tile: TileSpec | None, generated: str) -> str:
    """The side panel: title, region and data, the category and walking-time switchers, the area
    filter, the headline for the shown category, a table per district, the legend, the base-map /
    context layer control, notes and attribution. ``data`` is the map's data (see
    :func:`~.webmap.map_data`); the page's script keeps the panel in step with the map."""
    region = result.data.region
    year = _data_year(region)
    cats = data["cats"]
    shown = next(c for c in cats if c["key"] == data["cat"])
    minutes = int(data["minutes"])
    targets = sorted({f"{100 * t:.0f}%" for t in result.coverage["target_share"].dropna().unique()})
    notes = "".join(f'<p class="note">• {esc(n)}</p>' for n in result.data.notes)
    base = (
        (
            f"底图 Base map: {esc(tile.name)}"
            + (" — 矢量图层已转换为 GCJ-02 vector layers shifted to GCJ-02" if tile.gcj02 else "")
        )
        if tile
        else "无底图（离线）No base map (works offline)"
    )
    reach = data.get("reach")
    legend = legend_html(minutes, "/".join(targets) or "—", data["weightKind"], shown["markers"], reach)
    answer = headline_html(
        shown, data["comm"], minutes, data["weightKind"], text=data.get("text", HEADLINE_TEXT), reach=reach
    )
    return (
        f'<div id="circles-side">'
        f"<h1>15分钟社区生活圈 设施覆盖图<small>15-minute community life circle — coverage map</small></h1>"
        f'<div class="region"><b>{esc(region.name_zh)}</b><br>{esc(region.name_en)}</div>'
        f'<div class="note">数据 Data: OpenStreetMap {f"{year} " if year else ""}'
        f"(© OpenStreetMap contributors, ODbL) · {base}</div>"
        f"{_switcher_html(cats, shown['key'], minutes, reach)}{_filter_html(data['comm'])}"
        f'<div class="answer" id="circles-answer">{answer}</div>'
        f'<div id="circles-table"></div><p class="note">{esc(measure_note(result))}</p>{legend}'
        f'<h2>底图与参考图层 Base map and context</h2><div id="circles-layers"></div>'
        f"<h2>说明 Notes</h2>{_sample_note(result)}{notes}"
        f'<p class="note"><button type="button" id="circles-print-btn">打印 Print</button> '
        f"A4/A3 横向 landscape (map.html#print=a3 for A3)</p>"
        f'<p class="note">circles {__version__} · {generated}</p>'
        f'<p class="attr">{OSM_ATTRIBUTION} (ODbL) · Leaflet (BSD-2-Clause)</p>'
        f"</div>"
    )


def _sample_note(result: PlanResult) -> str:
    n_sample = int((result.data.facilities["source"] == "sample").sum())
    if not n_sample:
        return ""
    return (
        f'<p class="note sample">{n_sample} 个设施为示例数据 facilities are SAMPLE data, not observed '
        f"(空心虚线标记 hollow dashed markers).</p>"
    )


# ------------------------------------------------------------------------------------ print frame
_NORTH_ARROW = (
    '<svg width="34" height="46" viewBox="0 0 34 46" aria-label="north arrow">'
    '<polygon points="17,2 29,40 17,32 5,40" fill="#222"></polygon>'
    '<polygon points="17,2 17,32 5,40" fill="#fff" stroke="#222" stroke-width="1"></polygon></svg>'
)


def print_frame_html(result: PlanResult, data: dict[str, Any], generated: str) -> str:
    """What a printed page adds around the map (hidden on screen; shown in print mode: when printing,
    or with ``#print=a4`` / ``#print=a3`` in the address): title, legend box, north arrow, scale,
    data sources, sample-data note and date. The page's script keeps its texts in step."""
    region = result.data.region
    year = _data_year(region)
    shown = next(c for c in data["cats"] if c["key"] == data["cat"])
    sources = [f"{OSM_ATTRIBUTION} (ODbL){f', OpenStreetMap {year}' if year else ''}"]
    if any(data["comm"]["residentsEst"]):
        sources.append(f"人口 Population: {CENSUS_SOURCE} — 估算 estimate, spread by residential area")
    n_sample = int((result.data.facilities["source"] == "sample").sum())
    sample = (
        f'<span class="sample">{n_sample} 个设施为示例数据（空心虚线）{n_sample} facilities are SAMPLE data, '
        "not observed (hollow dashed markers)</span>"
        if n_sample
        else "无示例数据 no sample data"
    )
    reach = data.get("reach")
    level = (
        f'步行 <span class="p-min">{reach[str(data["minutes"])]}</span> walk'
        if reach
        else f'<span class="p-min">{data["minutes"]}</span> 分钟步行 min walk'
    )
    return (
        '<div id="circles-print" aria-hidden="true">'
        f'<div class="p-title"><h1>{esc(region.name_zh)} 15分钟社区生活圈 · <span class="p-cat">'
        f"{esc(shown['zh'])} {esc(shown['en'])}</span> · "
        f"{level}</h1>"
        f'<div class="p-sub">{esc(region.name_en)} — 15-minute community life circle coverage'
        f'<span class="p-where"></span></div></div>'
        f'<div class="p-north">{_NORTH_ARROW}<b>N 北</b></div>'
        '<div class="p-legend"></div>'
        '<div class="p-scale">比例尺 Scale <span class="p-ratio"></span></div>'
        f'<div class="p-foot"><span>数据来源 Sources: {" · ".join(esc(s) for s in sources)}</span> · '
        f"<span>{sample}</span> · <span>制图日期 Date: {esc(generated)} · circles {__version__}</span></div>"
        "</div>"
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
