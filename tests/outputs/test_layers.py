"""Service-area layers: nested, largest first, EPSG:4326, cached in the result's declared caches."""

from __future__ import annotations

from circles.outputs.layers import service_area_layer

from synthetic_line import synthetic_plan


def test_service_areas_largest_first_and_cached_on_the_result(tmp_path):
    res = synthetic_plan(tmp_path)
    areas = service_area_layer(res, "canteen", (5, 10))
    assert areas.crs.to_epsg() == 4326
    assert areas["minutes"].tolist() == [10.0, 5.0]
    assert areas.geometry.iloc[0].contains(areas.geometry.iloc[1].buffer(-1e-6))
    assert service_area_layer(res, "canteen", [10, 5]) is areas  # same thresholds, any order
    assert list(res.caches) == ["service_areas"]
    assert not any(k.startswith("_") for k in vars(res))  # nothing attached beside the declared fields
