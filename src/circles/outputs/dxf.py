"""DXF drawings for CAD (AutoCAD, 中望CAD, QCAD, GDAL's DXF driver): the chosen sites, their labels,
the service areas, the communities with a gap, and the streets and buildings around the sites, in a
metric coordinate system (the CGCS2000 Gauss–Krüger zone of the region by default).

The file is DXF R2010. Every text is an MTEXT whose non-ASCII characters are written as DXF unicode
escapes (``\\U+6D4B``): AutoCAD and other CAD read them in any DXF version, and so does GDAL's DXF
driver (QGIS), which would otherwise decode the file's UTF-8 as Latin-1 (``ezdxf.decode_dxf_unicode``
turns them back for scripts). Texts use the style ``CJK`` (TrueType 宋体 ``simsun.ttc``, family
SimSun), which CAD on Chinese Windows shows; elsewhere CAD substitutes a font it has. Drawing units
are metres (``$INSUNITS`` = 6); the coordinate system is named in the header (custom properties
``CRS``, ``CRS_EPSG``, ``UNITS``) and on the layer ``NOTES``.

Layers (colour index in brackets): ``SITE_OUTLINE`` (1 red: site polygons; a 5 m circle for sites
known only as a point), ``SITE_LABEL`` (1: rank, kind, name, area, width x length, suggested floor
area), ``SERVICE_EXISTING_<n>MIN`` (3 green) and ``SERVICE_WITH_SITES_<n>MIN`` (5 blue): where the
nearest facility is within n minutes now and with the sites, ``GAP_COMMUNITY`` (6 magenta: outlines
of the communities with a gap of the category) and ``GAP_LABEL`` (their names), ``CONTEXT_STREET``
(8 grey: streets within 200 m) and ``STREET_NAME``, ``CONTEXT_BUILDING`` (9: buildings within
200 m), ``NOTES`` (7: coordinate system, units, category, attribution).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .. import OSM_ATTRIBUTION
from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from .export_crs import OutputCrs

__all__ = ["CJK_FONT", "DXF_LAYERS", "TEXT_STYLE", "mtext_escape", "write_dxf"]

#: Text style of every text in the drawing, and its TrueType font (file, family).
TEXT_STYLE = "CJK"
CJK_FONT = ("simsun.ttc", "SimSun")
#: Fixed layers: name -> (colour index, description).
DXF_LAYERS: Mapping[str, tuple[int, str]] = {
    "SITE_OUTLINE": (1, "候选用地轮廓 chosen site outlines"),
    "SITE_LABEL": (1, "候选用地标注 site labels: rank, kind, name, area, size, floor area"),
    "GAP_COMMUNITY": (6, "配套缺失社区 communities with a gap"),
    "GAP_LABEL": (6, "缺失社区名称 names of the communities with a gap"),
    "CONTEXT_STREET": (8, "周边道路（200 m 内） streets within 200 m"),
    "STREET_NAME": (8, "道路名称 street names"),
    "CONTEXT_BUILDING": (9, "周边建筑（200 m 内） buildings within 200 m"),
    "NOTES": (7, "说明：坐标系、单位、数据来源 notes: coordinate system, units, sources"),
}
_SCENARIO_COLOURS = {"existing": 3, "with_sites": 5}
_POINT_SITE_RADIUS_M = 5.0
_LABEL_H_M, _SMALL_H_M, _NOTE_H_M = 4.0, 2.5, 8.0


def write_dxf(
    layers: Mapping[str, gpd.GeoDataFrame],
    info: Mapping[str, str],
    path: str | Path,
    out_crs: OutputCrs,
    category: str | None,
) -> Path:
    """Draw the export ``layers`` (already in ``out_crs``, which must be projected: metres) to a DXF at
    ``path``; ``category``: the category whose gap communities are drawn (all gaps when None).
    :class:`InputError` for a geographic coordinate system."""
    import ezdxf

    if not out_crs.projected:
        raise InputError(
            f"DXF is drawn in metres: --crs {out_crs.key} is in degrees; use cgcs2000-gk (the default "
            "for .dxf: the region's CGCS2000 Gauss-Kruger zone) or a projected EPSG:n"
        )
    doc = ezdxf.new("R2010", setup=False)
    _header(doc, out_crs)
    style = doc.styles.add(TEXT_STYLE, font=CJK_FONT[0])
    style.set_extended_font_data(family=CJK_FONT[1])
    for name, (colour, description) in DXF_LAYERS.items():
        doc.layers.add(name, color=colour).description = description
    msp = doc.modelspace()
    _sites(msp, layers)
    _service_areas(doc, msp, layers.get("isochrones"))
    _gaps(msp, layers.get("gaps"), category)
    _context(msp, layers.get("context_streets"), layers.get("context_buildings"))
    bounds = _bounds(layers)
    _notes(msp, info, out_crs, bounds)
    if bounds is not None:
        x0, y0, x1, y1 = bounds
        doc.header["$EXTMIN"] = (x0, y0, 0.0)
        doc.header["$EXTMAX"] = (x1, y1, 0.0)
        doc.set_modelspace_vport(height=max(y1 - y0, x1 - x0) * 1.1, center=((x0 + x1) / 2, (y0 + y1) / 2))
    path = Path(path)
    doc.saveas(path, encoding="utf-8")
    return path


def _header(doc: Any, out_crs: OutputCrs) -> None:
    doc.header["$INSUNITS"] = 6  # metres
    doc.header["$MEASUREMENT"] = 1  # metric
    doc.header["$LUNITS"] = 2  # decimal
    doc.header.custom_vars.append("CRS", out_crs.label)
    doc.header.custom_vars.append("CRS_EPSG", str(out_crs.epsg or ""))
    doc.header.custom_vars.append("UNITS", "metres (x = easting, y = northing)")
    doc.header.custom_vars.append("ATTRIBUTION", OSM_ATTRIBUTION)


# --- geometry ------------------------------------------------------------------------------------


def _lines(geom: BaseGeometry | None) -> Iterator[tuple[np.ndarray, bool]]:
    """(coordinates, closed) of every ring of a polygon and every part of a line."""
    if geom is None or geom.is_empty:
        return
    kind = geom.geom_type
    if kind == "Polygon":
        for ring in (geom.exterior, *geom.interiors):
            yield np.asarray(ring.coords)[:-1, :2], True
    elif kind == "LineString":
        yield np.asarray(geom.coords)[:, :2], False
    elif hasattr(geom, "geoms"):
        for part in geom.geoms:
            yield from _lines(part)


def _draw(msp: Any, geom: BaseGeometry | None, layer: str, colour: int | None = None) -> None:
    attribs: dict[str, Any] = {"layer": layer}
    if colour is not None:
        attribs["color"] = colour
    for xy, closed in _lines(geom):
        if len(xy) >= 2:
            msp.add_lwpolyline(xy.tolist(), close=closed, dxfattribs=attribs)


def mtext_escape(text: str) -> str:
    """``text`` as MTEXT content: ``\\``, ``{`` and ``}`` escaped, line breaks as ``\\P``, every
    non-ASCII character of the Basic Multilingual Plane as a DXF unicode escape ``\\U+XXXX`` (rarer
    characters beyond it stay as UTF-8, which CAD reads in an R2007+ file)."""
    out = []
    for line in text.split("\n"):
        part = line.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
        out.append("".join(c if ord(c) < 128 or ord(c) > 0xFFFF else f"\\U+{ord(c):04X}" for c in part))
    return "\\P".join(out)


def _text(msp: Any, text: str, at: BaseGeometry, layer: str, height: float) -> None:
    """An MTEXT centred on ``at`` (``text`` plain: line breaks as newlines)."""
    attribs = {"layer": layer, "style": TEXT_STYLE, "char_height": height}
    msp.add_mtext(mtext_escape(text), dxfattribs=attribs).set_location((at.x, at.y), attachment_point=5)


# --- layers --------------------------------------------------------------------------------------


def _sites(msp: Any, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
    sites = layers.get("sites")
    areas = layers.get("site_areas")
    if sites is None or not len(sites):
        return
    outline = dict(zip(areas["rank"], areas.geometry)) if areas is not None and len(areas) else {}
    for r in sites.itertuples():
        geom = outline.get(r.rank)
        if geom is not None:
            _draw(msp, geom, "SITE_OUTLINE")
        else:
            msp.add_circle(
                (r.geometry.x, r.geometry.y), _POINT_SITE_RADIUS_M, dxfattribs={"layer": "SITE_OUTLINE"}
            )
        at = shapely.point_on_surface(geom) if geom is not None else r.geometry
        _text(msp, _site_label(r), at, "SITE_LABEL", _LABEL_H_M)


def _site_label(r: Any) -> str:
    """'#1 停车场 麻石桥菜市场', '2,306 m² · 49 x 67 m', '建议建筑面积 120 m²' on three lines."""
    head = " ".join(str(x) for x in (f"#{r.rank}", r.kind_zh or r.kind, r.name) if x)
    size = f"{r.area_m2:,.0f} m²" if np.isfinite(r.area_m2) else "面积未知 size unknown"
    if np.isfinite(r.width_m):
        size += f" · {r.width_m:.0f} × {r.length_m:.0f} m"
    lines = [head, size]
    if np.isfinite(r.suggested_floor_m2):
        lines.append(f"建议建筑面积 {r.suggested_floor_m2:,.0f} m²")
    return "\n".join(lines)


def _service_areas(doc: Any, msp: Any, iso: gpd.GeoDataFrame | None) -> None:
    if iso is None or not len(iso):
        return
    for r in iso.itertuples():
        name = f"SERVICE_{str(r.scenario).upper()}_{float(r.minutes):g}MIN".replace(".", "_")
        if name not in doc.layers:
            colour = _SCENARIO_COLOURS.get(str(r.scenario), 4)
            doc.layers.add(
                name, color=colour
            ).description = f"{r.category_zh} {float(r.minutes):g} 分钟服务范围 ({r.scenario}, {r.profile})"
        _draw(msp, r.geometry, name)


def _gaps(msp: Any, gaps: gpd.GeoDataFrame | None, category: str | None) -> None:
    if gaps is None or not len(gaps):
        return
    sub = gaps[gaps["category"] == category] if category is not None else gaps
    sub = sub.drop_duplicates("community_id")
    for r in sub.itertuples():
        _draw(msp, r.geometry, "GAP_COMMUNITY")
        if r.geometry is not None and not r.geometry.is_empty:
            _text(msp, str(r.community_name), shapely.point_on_surface(r.geometry), "GAP_LABEL", _SMALL_H_M)


def _context(msp: Any, streets: gpd.GeoDataFrame | None, buildings: gpd.GeoDataFrame | None) -> None:
    if buildings is not None:
        for g in buildings.geometry:
            _draw(msp, g, "CONTEXT_BUILDING")
    if streets is None or not len(streets):
        return
    for g in streets.geometry:
        _draw(msp, g, "CONTEXT_STREET")
    named = streets[streets["name"].fillna("").astype(str) != ""]
    for name, group in named.groupby("name"):
        longest = max(group.geometry, key=lambda g: g.length)
        _text(msp, str(name), longest.interpolate(0.5, normalized=True), "STREET_NAME", _SMALL_H_M)


def _bounds(layers: Mapping[str, gpd.GeoDataFrame]) -> tuple[float, float, float, float] | None:
    """The extent of what is drawn around the sites (else the gap communities), metres."""
    for names in (("site_areas", "sites", "context_streets", "context_buildings"), ("gaps",)):
        frames = [layers[n] for n in names if n in layers and len(layers[n])]
        if frames:
            b = np.array([f.total_bounds for f in frames])
            return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())
    return None


def _notes(
    msp: Any, info: Mapping[str, str], out_crs: OutputCrs, bounds: tuple[float, float, float, float] | None
) -> None:
    """The NOTES text above the top-left corner of the drawing."""
    lines = [
        info.get("title", "circles export"),
        f"坐标系 coordinate system: {out_crs.label}",
        "单位 units: 米 metres (x = easting 东坐标, y = northing 北坐标)",
    ]
    if "category" in info:
        lines.append(f"设施类别 category: {info['category']}")
    lines += [f"生成 generated: {info.get('generated_at', '')}", OSM_ATTRIBUTION + " (ODbL)"]
    x0, y1 = (bounds[0], bounds[3]) if bounds is not None else (0.0, 0.0)
    mtext = msp.add_mtext(
        mtext_escape("\n".join(lines)),
        dxfattribs={"layer": "NOTES", "style": TEXT_STYLE, "char_height": _NOTE_H_M},
    )
    mtext.set_location((x0, y1 + _NOTE_H_M * (len(lines) + 2)), attachment_point=1)
