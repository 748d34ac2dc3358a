"""Spreadsheet and map answers of ``/gaps`` and ``/coverage``: CSV (UTF-8 with BOM, rounded,
formula-like cells neutralised), Excel workbooks (Chinese and English headers, README sheet) and group
polygons of roll-ups. The formatting itself is :mod:`circles.outputs.tables`."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from fastapi.responses import Response

from circles import OSM_ATTRIBUTION
from circles.outputs.plan_files import workbook_meta
from circles.outputs.tables import ROLLUP_COLUMNS, Column, Sheet, readme_lines, write_xlsx
from circles.pipeline import PlanResult
from circles.planning.rollup import GROUP_LABELS, group_names

from .dependencies import GeoJSONResponse
from .gap_index import json_records
from .read_tables import csv_text

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Roll-up rows as the API lists them: the category, the roll-up and the minutes and target they judge.
ROLLUP_TABLE_COLUMNS: tuple[Column, ...] = (
    Column("category", "category", "设施类别", "category"),
    Column("category_zh", "category_zh", "类别名称", "category (Chinese)"),
    *ROLLUP_COLUMNS,
    Column("threshold_min", "threshold_min", "时间阈值(分钟)", "threshold (min)", "minutes"),
    Column("target_share", "target_share_pct", "目标比例(%)", "target share (%)", "share"),
    Column("weight_kind", "weight_kind", "权重", "weighting (population/households/raster/area)"),
)
#: Sheet titles of the roll-up levels.
LEVEL_SHEETS = {
    "compound": "小区 compound",
    "community": "社区 community",
    "street": "街道 street",
    "district": "区 district",
}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN and infinity as null)."""
    return json_records(frame)


def csv_response(frame: pd.DataFrame, columns: Sequence[Column], name: str, total: int) -> Response:
    """``frame`` as CSV in UTF-8 with BOM (Excel reads the Chinese), machine headers with units (the
    text of ``sheet_table(frame, columns).to_csv()``, see :func:`api.read_tables.csv_text`)."""
    return csv_text_response(csv_text(frame, columns), name, total)


def csv_text_response(text: str, name: str, total: int) -> Response:
    """CSV ``text`` as an answer in UTF-8 with BOM, named ``name``.csv, ``total`` in ``X-Total-Count``."""
    return Response(
        text.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"X-Total-Count": str(total), "Content-Disposition": f'inline; filename="{name}.csv"'},
    )


def xlsx_response(
    result: PlanResult, sheets: Sequence[Sheet], query: Sequence[str], name: str, total: int
) -> Response:
    """An Excel workbook of ``sheets`` with the README sheet of the plan and the ``query`` lines."""
    meta = workbook_meta(result)
    meta["notes"] = [*query, *meta.get("notes", [])]
    with tempfile.TemporaryDirectory(prefix="circles-xlsx-") as folder:
        path = write_xlsx(sheets, readme_lines(meta), Path(folder) / f"{name}.xlsx")
        content = path.read_bytes()
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers={"X-Total-Count": str(total), "Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


def query_lines(**params: Any) -> list[str]:
    """'query: category=canteen, minutes=10' for the README sheet (parameters given only)."""
    given = {k: v for k, v in params.items() if v is not None}
    return [f"query 查询: {', '.join(f'{k}={v}' for k, v in given.items()) or 'all'}"]


def rollup_sheet(group_by: str, frame: pd.DataFrame) -> Sheet:
    return Sheet(LEVEL_SHEETS[group_by], frame, ROLLUP_TABLE_COLUMNS)


def group_features(
    result: PlanResult, group_by: str, rollup_rows: pd.DataFrame, members: np.ndarray | None
) -> list[dict[str, Any]]:
    """One GeoJSON feature per roll-up row: the union of its member communities (EPSG:4326), the row
    as properties (``kind: group``). ``members``: mask of the community rows taken into account."""
    comm = result.data.communities
    names = group_names(comm, group_by).to_numpy()
    geoms = comm.geometry.to_numpy()
    if members is not None:
        names, geoms = names[members], geoms[members]
    shapes: dict[str, Any] = {}
    for group in pd.unique(rollup_rows["group"]):
        shapes[group] = shapely.union_all(geoms[names == group])
    feats = []
    for row in records(rollup_rows):
        geom = shapes.get(row["group"])
        feats.append(
            {
                "type": "Feature",
                "geometry": None if geom is None or geom.is_empty else json.loads(shapely.to_geojson(geom)),
                "properties": {"kind": "group", "level_label": GROUP_LABELS[group_by], **row},
            }
        )
    return feats


def feature_collection_text(features_json: str, count: int, **members: Any) -> Response:
    """:func:`feature_collection` with the features already encoded (compact JSON, "," between them):
    the same bytes and headers."""
    head = json.dumps(
        {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, **members},
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )[:-1]
    return Response(
        f'{head},"features":[{features_json}]}}'.encode(),
        media_type=GeoJSONResponse.media_type,
        headers={"X-Total-Count": str(count)},
    )


def feature_collection(features: list[dict[str, Any]], count: int, **members: Any) -> GeoJSONResponse:
    """A FeatureCollection with the OSM attribution and ``members``; ``count`` (all matches, of which
    ``features`` may be a page) in the ``X-Total-Count`` header."""
    return GeoJSONResponse(
        {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, **members, "features": features},
        headers={"X-Total-Count": str(count)},
    )
