"""Helpers for the tests of reading users' files: small hand-made CSV, GeoJSON and Excel files."""

import json

import numpy as np
import pyproj

GEOD = pyproj.Geod(ellps="WGS84")
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
# Known WGS84 positions around 天府广场, Chengdu
KNOWN = np.array([[104.0657, 30.6598], [104.0712, 30.6631], [104.0583, 30.6502], [104.0801, 30.6455]])
CHENGDU_BBOX = (103.9, 30.5, 104.3, 30.8)


def metres(lon1, lat1, lon2, lat2):
    return np.abs(np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2]))


def write_csv(path, header, rows, encoding="utf-8"):
    path.write_text(
        "\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n", encoding=encoding
    )
    return path


def write_geojson(path, features):
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
                ],
            }
        )
    )
    return path


def write_xlsx(path, rows, *, sheet="Sheet1", merged=(), more_sheets=()):
    """An .xlsx with ``rows`` (lists of cell values, None for empty) on ``sheet``, the ``merged`` ranges
    (e.g. 'A1:F1') merged, and empty sheets named ``more_sheets`` after it."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(list(r))
    for ref in merged:
        ws.merge_cells(ref)
    for name in more_sheets:
        wb.create_sheet(name)
    wb.save(path)
    return path
