"""Small hand-made files of a planner's own data for the API tests (GeoJSON communities, CSV
registers in GCJ-02)."""

from __future__ import annotations

import json

from circles.io.coords import wgs84_to_gcj02

#: The planner's communities: (id, 小区 name, 社区, 街道, households), boxes of ~150 m around
#: 104.08, 30.69 (成华区), three in a row per 街道.
USER_COMMUNITIES = [
    ("c1", "锦绣苑", "建华社区", "猛追湾街道", 320),
    ("c2", "望江苑", "建华社区", "猛追湾街道", 410),
    ("c3", "石油小区", "石油社区", "猛追湾街道", 280),
    ("c4", "双林花园", "双林社区", "双桥子街道", 500),
    ("c5", "新华小区", "新华社区", "双桥子街道", 350),
    ("c6", "幸福家园", "幸福里社区", "双桥子街道", 150),
]
#: The register's canteens (name, WGS84 lon, lat); written in GCJ-02 as a 高德 export would be.
USER_CANTEENS = [("锦绣社区食堂", 104.0757, 30.6867), ("双林长者食堂", 104.0762, 30.6892)]


def box(lon, lat, size=0.0015):
    """A square polygon (GeoJSON geometry, WGS84 degrees) with its south-west corner at lon, lat."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature_collection(features):
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
        },
        ensure_ascii=False,
    )


def gcj02_register(rows, header="名称,类别,经度,纬度"):
    """CSV text of (name, category, WGS84 lon, lat[, more cells]) rows with GCJ-02 coordinates."""
    lines = [header]
    for name, category, lon, lat, *more in rows:
        glon, glat = wgs84_to_gcj02(lon, lat)
        lines.append(",".join([name, category, f"{float(glon):.7f}", f"{float(glat):.7f}", *map(str, more)]))
    return "\n".join(lines) + "\n"
