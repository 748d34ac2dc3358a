"""Tiny hand-written OSM files: one way per access rule, with the expected foot/bike access."""

from __future__ import annotations

from pathlib import Path

# way id -> (tags, expected foot, expected bike) under the China rule set of data/access_rules.toml (the
# ways lie in Chengdu): trunk and cycleway defaults from the OSM wiki, pedestrian ways cyclable in China
WAYS = {
    1: ({"highway": "footway"}, True, False),
    2: ({"highway": "motorway"}, False, False),
    3: ({"highway": "trunk", "sidewalk": "both"}, True, True),
    4: ({"highway": "residential", "foot": "no"}, False, True),
    5: ({"highway": "service", "access": "private"}, False, False),
    6: ({"highway": "service", "access": "no", "foot": "yes"}, True, False),
    7: ({"highway": "steps"}, True, False),
    8: ({"highway": "pedestrian"}, True, True),
    9: ({"highway": "living_street"}, True, True),
    10: ({"highway": "path", "bicycle": "no"}, True, False),
    11: ({"highway": "trunk"}, True, True),
    12: ({"highway": "cycleway"}, False, True),
    13: ({"highway": "footway", "bicycle": "yes"}, True, True),
    14: ({"highway": "trunk", "cycleway": "track"}, True, True),
    15: ({"highway": "primary", "oneway": "yes"}, True, True),
    16: ({"highway": "construction"}, False, False),
    17: ({"highway": "cycleway", "foot": "designated"}, True, True),
    18: ({"highway": "elevator"}, True, False),
}


def write_osm(path: Path, ways: dict) -> Path:
    """Each way k runs from node 2k to node 2k+1, 100 m apart around (104.07, 30.66)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for k in ways:
        lat = 30.66 + k * 0.001
        lines.append(f'<node id="{2 * k}" lat="{lat}" lon="104.07"/>')
        lines.append(f'<node id="{2 * k + 1}" lat="{lat}" lon="104.071044"/>')
    for k, (tags, *_rest) in ways.items():
        lines.append(f'<way id="{k}"><nd ref="{2 * k}"/><nd ref="{2 * k + 1}"/>')
        lines += [f'<tag k="{a}" v="{b}"/>' for a, b in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
