"""Spreadsheet-ready tables: the gap list and the coverage table as a planner opens them in Excel or WPS.

* numbers rounded to what they mean: shares as percent (0.1), minutes to 0.1, metres, m² and people to
  integers; "unreachable" (不可达) where no facility can be reached; units in every header;
* CSV in UTF-8 **with BOM** (Excel otherwise garbles the Chinese), XLSX with Chinese and English headers,
  the header row frozen, a README sheet naming the data sources, the weighting and any sample layers;
* every text cell a spreadsheet could run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
  carriage return) is neutralised: a leading ``'`` in CSV, a plain string cell in XLSX.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._common import atomic_write

#: Text written where no facility is reachable.
UNREACHABLE = "unreachable 不可达"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One output column: source column, machine name (CSV), Chinese and English header, value kind.

    ``kind``: ``text``, ``int``, ``share`` (fraction -> percent), ``minutes``, ``metres`` (m, m², people
    and other whole quantities, rounded to integers), ``number`` (2 decimals), ``bool``."""

    source: str
    name: str
    zh: str
    en: str
    kind: str = "text"

    @property
    def header(self) -> str:
        return f"{self.zh} {self.en}"


GAP_COLUMNS: tuple[Column, ...] = (
    Column("severity_rank", "severity_rank", "严重度排名", "rank", "int"),
    Column("kind", "kind", "缺口类型", "kind (coverage/capacity)"),
    Column("community_id", "community_id", "小区编号", "community id"),
    Column("community_name", "community_name", "小区/社区", "community"),
    Column("community", "shequ", "所属社区", "社区 community"),
    Column("street", "street", "所属街道", "街道 sub-district"),
    Column("district", "district", "区", "district"),
    Column("community_type", "community_type", "社区类型", "type"),
    Column("category", "category", "设施类别", "category"),
    Column("category_zh", "category_zh", "类别名称", "category (Chinese)"),
    Column("level_min", "level_min", "生活圈层级(分钟)", "circle level (min)", "int"),
    Column("threshold_min", "threshold_min", "时间阈值(分钟)", "threshold (min)", "minutes"),
    Column("threshold_m", "threshold_m", "距离阈值(m)", "threshold (m, network walking distance)", "metres"),
    Column("measure", "measure", "度量", "measure (time: minutes / distance: metres)"),
    Column("profile", "profile", "出行方式", "travel profile"),
    Column("covered_share", "covered_share_pct", "覆盖比例(%)", "covered share (%)", "share"),
    Column("target_share", "target_share_pct", "目标比例(%)", "target share (%)", "share"),
    Column(
        "uncovered_residents",
        "uncovered_residents",
        "未覆盖人口(人)",
        "uncovered residents (persons)",
        "metres",
    ),
    Column(
        "uncovered_elderly",
        "uncovered_elderly_65plus",
        "未覆盖65岁以上老人(人)",
        "uncovered residents aged 65+ (persons; district census share)",
        "metres",
    ),
    Column(
        "uncovered_residents_estimate",
        "uncovered_residents_ESTIMATE",
        "未覆盖人口估算(人,估算)",
        "uncovered residents ESTIMATE (census spread over residential land; not counted)",
        "metres",
    ),
    Column(
        "uncovered_area_m2",
        "uncovered_area_m2",
        "未覆盖居住用地(m²)",
        "uncovered residential area (m²)",
        "metres",
    ),
    Column("nearest_facility_name", "nearest_facility", "最近设施", "nearest facility"),
    Column("nearest_facility_source", "nearest_facility_source", "设施数据来源", "facility source"),
    Column(
        "nearest_time_min", "nearest_time_min", "到最近设施时间(分钟)", "time to nearest (min)", "minutes"
    ),
    Column(
        "nearest_walk_m", "nearest_walk_m", "到最近设施距离(m)", "network distance to nearest (m)", "metres"
    ),
    Column("required_m2", "required_m2", "所需面积(m²)", "required floor area (m²)", "metres"),
    Column("available_m2", "available_m2", "现有面积(m²)", "available floor area (m²)", "metres"),
    Column("shortfall_m2", "shortfall_m2", "面积缺口(m²)", "floor-area shortfall (m²)", "metres"),
    Column(
        "severity",
        "severity_uncovered_x_time_ratio",
        "严重度(未覆盖量×时间比)",
        "severity (uncovered residents or m² x nearest time / threshold, capped at 4)",
        "number",
    ),
    Column("weight_kind", "weight_kind", "权重", "weighting (population/households/raster/area)"),
)

COVERAGE_COLUMNS: tuple[Column, ...] = (
    Column("community_id", "community_id", "小区编号", "community id"),
    Column("community_name", "community_name", "小区/社区", "community"),
    Column("community", "shequ", "所属社区", "社区 community"),
    Column("street", "street", "所属街道", "街道 sub-district"),
    Column("district", "district", "区", "district"),
    Column("category", "category", "设施类别", "category"),
    Column("level_min", "level_min", "生活圈层级(分钟)", "circle level (min)", "int"),
    Column("threshold_min", "threshold_min", "时间阈值(分钟)", "threshold (min)", "minutes"),
    Column("threshold_m", "threshold_m", "距离阈值(m)", "threshold (m, network walking distance)", "metres"),
    Column("measure", "measure", "度量", "measure (time: minutes / distance: metres)"),
    Column("profile", "profile", "出行方式", "travel profile"),
    Column("applies", "applies", "适用", "applies", "bool"),
    Column("total_weight", "total_weight", "总量(人或m²)", "total (persons or m², see weighting)", "metres"),
    Column("covered_weight", "covered_weight", "已覆盖(人或m²)", "covered (persons or m²)", "metres"),
    Column("covered_share", "covered_share_pct", "覆盖比例(%)", "covered share at threshold (%)", "share"),
    Column("target_share", "target_share_pct", "目标比例(%)", "target share (%)", "share"),
    Column("share_5", "share_5min_pct", "5分钟覆盖(%)", "covered within 5 min (%)", "share"),
    Column("share_10", "share_10min_pct", "10分钟覆盖(%)", "covered within 10 min (%)", "share"),
    Column("share_15", "share_15min_pct", "15分钟覆盖(%)", "covered within 15 min (%)", "share"),
    Column("nearest_time_s", "nearest_time_min", "到最近设施时间(分钟)", "time to nearest (min)", "seconds"),
    Column(
        "nearest_walk_m", "nearest_walk_m", "到最近设施距离(m)", "network distance to nearest (m)", "metres"
    ),
    Column("nearest_facility_name", "nearest_facility", "最近设施", "nearest facility"),
    Column("nearest_facility_source", "nearest_facility_source", "设施数据来源", "facility source"),
)

ROLLUP_COLUMNS: tuple[Column, ...] = (
    Column("group", "group", "单元", "unit"),
    Column("level", "level", "层级", "level"),
    Column("members", "members", "小区数", "member communities", "int"),
    Column(
        "members_applicable", "members_applicable", "适用小区数", "members the category applies to", "int"
    ),
    Column("members_short", "members_short", "未达标小区数", "members short of target", "int"),
    Column("total_weight", "total_weight", "总量(人或m²)", "total (persons or m²)", "metres"),
    Column("covered_weight", "covered_weight", "已覆盖(人或m²)", "covered (persons or m²)", "metres"),
    Column("uncovered_weight", "uncovered_weight", "未覆盖(人或m²)", "uncovered (persons or m²)", "metres"),
    Column("covered_share", "covered_share_pct", "覆盖比例(%)", "covered share (%)", "share"),
    Column("worst_members", "worst_members", "覆盖最差小区", "worst members (covered share)"),
)


_LEVEL_SHARE = re.compile(r"share_(\d+)")


def columns_for(
    frame: pd.DataFrame, columns: Sequence[Column], level_walk_m: Mapping[int, float] | None = None
) -> tuple[Column, ...]:
    """``columns`` as a table of ``frame`` shows them: a threshold column that is empty in every row of a
    non-empty table left out (``threshold_m`` in a time plan, ``threshold_min`` in a distance plan without
    rural communities); with ``level_walk_m`` (a distance plan: level minutes -> metres) the level shares
    named by their metres (``share_300m_pct``; rural rows: the level's minutes by bicycle)."""
    out = []
    for c in columns:
        if c.source in ("threshold_min", "threshold_m") and len(frame) and c.source in frame:
            if pd.to_numeric(frame[c.source], errors="coerce").isna().all():
                continue
        m = _LEVEL_SHARE.fullmatch(c.source)
        if m and level_walk_m and int(m.group(1)) in level_walk_m:
            lv, metres = int(m.group(1)), float(level_walk_m[int(m.group(1))])
            c = Column(
                c.source,
                f"share_{metres:g}m_pct",
                f"{metres:g}米内覆盖(%)",
                f"covered within {metres:g} m (%; rural: {lv} min by bicycle)",
                "share",
            )
        out.append(c)
    return tuple(out)


def neutralise(text: str) -> str:
    """A text a spreadsheet would run as a formula, with a leading ``'`` (OWASP CSV injection advice)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def sheet_cell(value: Any, kind: str) -> Any:
    """One value as it should appear in the sheet, before text is neutralised (see the module
    docstring): blanks as None, numbers rounded by ``kind``, infinity as :data:`UNREACHABLE`."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if kind == "text":
        return str(value)
    if kind == "bool":
        return bool(value)
    v = float(value)
    if math.isinf(v):
        return UNREACHABLE if v > 0 else None
    if kind == "share":
        return round(100.0 * v, 1)
    if kind == "minutes":
        return round(v, 1)
    if kind == "seconds":
        return round(v / 60.0, 1)
    if kind == "number":
        return round(v, 2)
    return int(round(v))


def sheet_table(frame: pd.DataFrame, columns: Sequence[Column], *, headers: str = "name") -> pd.DataFrame:
    """``frame`` as a spreadsheet table: the ``columns`` it has, values formatted by kind, text cells
    neutralised. ``headers``: ``'name'`` (machine names, for CSV) or ``'header'`` (Chinese and English)."""
    present = [c for c in columns if c.source in frame.columns]
    data = {}
    for c in present:
        values = [sheet_cell(v, c.kind) for v in frame[c.source].tolist()]
        data[getattr(c, headers)] = [neutralise(v) if isinstance(v, str) else v for v in values]
    return pd.DataFrame(data, columns=[getattr(c, headers) for c in present])


def write_csv(frame: pd.DataFrame, columns: Sequence[Column], path: str | Path) -> Path:
    """:func:`sheet_table` as CSV, UTF-8 with BOM, machine column names with units; atomic."""
    table = sheet_table(frame, columns, headers="name")
    return atomic_write(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a title (≤ 31 characters), the source frame and its columns."""

    title: str
    frame: pd.DataFrame
    columns: Sequence[Column]


def write_xlsx(sheets: Iterable[Sheet], readme: Sequence[str], path: str | Path) -> Path:
    """An Excel workbook: a README sheet (``readme`` lines) first, then each sheet with Chinese and
    English headers, the header row frozen, percent/minute/integer number formats and sized columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    info = wb.active
    info.title = "README 说明"
    for i, line in enumerate(readme, start=1):
        cell = info.cell(row=i, column=1, value=_xlsx_text(line))
        cell.data_type = "s"
    info.column_dimensions["A"].width = 120
    bold = Font(bold=True)
    for sheet in sheets:
        ws = wb.create_sheet(_title(sheet.title))
        present = [c for c in sheet.columns if c.source in sheet.frame.columns]
        for j, col in enumerate(present, start=1):
            ws.cell(row=1, column=j, value=col.header).font = bold
            ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(
                max(12, len(col.header) * 0.9), 48
            )
        for i, row in enumerate(sheet.frame[[c.source for c in present]].itertuples(index=False), start=2):
            for j, (col, raw) in enumerate(zip(present, row), start=1):
                _put(ws.cell(row=i, column=j), sheet_cell(raw, col.kind), col.kind)
        ws.freeze_panes = "A2"
        if len(sheet.frame):
            ws.auto_filter.ref = ws.dimensions
    return atomic_write(path, lambda p: wb.save(p))


def _xlsx_text(text: str) -> str:
    """``text`` without the control characters a workbook cannot hold (openpyxl refuses them: a name
    typed with an escape character would make every export of its category fail)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _put(cell: Any, value: Any, kind: str) -> None:
    if isinstance(value, str):
        value = _xlsx_text(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # a string cell, never a formula, whatever it starts with
        if value.startswith(_FORMULA_START):
            cell.quotePrefix = True  # and marked as text typed with a leading ' (kept on re-edit)
    elif kind == "share":
        cell.number_format = "0.0"
    elif kind in ("minutes", "seconds"):
        cell.number_format = "0.0"
    elif kind in ("metres", "int"):
        cell.number_format = "#,##0"


def _title(text: str) -> str:
    bad = set("[]:*?/\\")
    return "".join("_" if ch in bad else ch for ch in text)[:31]


def readme_lines(meta: Mapping[str, Any]) -> list[str]:
    """The README sheet: what the workbook is, its data sources, the weighting and sample layers."""
    lines = [
        f"circles {meta.get('version', '')} — {meta.get('title', '')}",
        f"region 区域: {meta.get('region', '')}",
        f"generated 生成时间: {meta.get('generated_at', '')}",
        "",
        f"weighting 权重: {meta.get('weighting', '')}",
        *([f"measure 度量: {meta['measure']}"] if meta.get("measure") else []),
        "shares are percent of residents (or of residential area where no population is known) 覆盖比例为人口"
        "(无人口数据时为居住用地面积)百分比",
        f"'{UNREACHABLE}': no facility of the category can be reached on the street network 路网上无法到达",
        "",
        "data sources 数据来源:",
    ]
    lines += [f"  - {s}" for s in meta.get("sources", [])]
    samples = meta.get("sample_note")
    if samples:
        lines += ["", f"SAMPLE DATA 示例数据: {samples}"]
    notes = meta.get("notes", [])
    if notes:
        lines += ["", "notes 说明:"] + [f"  - {n}" for n in notes]
    lines += ["", "Map data © OpenStreetMap contributors (ODbL)."]
    return lines
