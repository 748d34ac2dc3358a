"""The two measures a service circle can be judged by.

* ``time`` (the default): minutes of travel at the travel profile's speed (walking 1.1 m/s for urban and
  industrial communities, cycling for rural ones; ``data/profiles.toml``).
* ``distance``: metres of network walking distance, with each level's distance of GB 50180-2018
  《城市居住区规划设计标准》 (5-minute ≈ 300 m, 10-minute ≈ 500 m, 15-minute 800-1000 m, taken as 1000 m;
  the ``[[level]]`` tables of ``data/catalog.toml`` with their sources).

GB 50180-2018 is a standard for *urban* residential areas and states no cycling distance, so under
``distance`` **rural communities keep their plan threshold in minutes by bicycle** (the plan's 名词解释
defines the rural circle as 15 minutes by bicycle); every row of a coverage or gap table says which measure
judged it (``measure``) and carries its threshold in that measure's unit (``threshold_min`` or
``threshold_m``).

A distance is searched as a travel "time" on a profile whose speed is 1 m/s with steps at full length
(:func:`distance_profile`): the routing engine is unchanged and its seconds are metres.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .config import Profile
from .errors import InputError

__all__ = [
    "DEFAULT_MEASURE",
    "DISTANCE_SUFFIX",
    "MEASURES",
    "MEASURE_LABELS",
    "check_measure",
    "distance_profile",
    "judged_by",
    "search_profile",
]

#: The measures, in the order they are offered.
MEASURES: tuple[str, ...] = ("time", "distance")
#: Minutes at the profile's speed, as before the distance measure existed.
DEFAULT_MEASURE = "time"
#: What each measure is, for messages, legends and README sheets.
MEASURE_LABELS: Mapping[str, str] = {
    "time": "time 时间: minutes at the travel profile's speed",
    "distance": "distance 距离: network walking metres (GB 50180-2018 per level; rural: minutes by bicycle)",
}
#: Suffix of the name of a profile's distance twin (``walk`` -> ``walk_distance``).
DISTANCE_SUFFIX = "_distance"

#: Community types whose residents walk (GB 50180 distances apply); the others keep minutes.
_WALKING_TYPES = frozenset({"urban", "industrial"})


def check_measure(measure: str) -> str:
    """``measure`` when it is ``time`` or ``distance``; else an :class:`InputError` naming both."""
    if measure not in MEASURES:
        raise InputError(
            f"unknown measure {measure!r}; choose time (minutes at the profile's speed) or distance "
            "(network walking metres: 300/500/1000 m per level, GB 50180-2018)"
        )
    return measure


def judged_by(community_type: str, measure: str) -> str:
    """The measure a community of ``community_type`` is judged by in a plan of ``measure``: ``distance``
    only for walking communities (urban, industrial); rural communities keep ``time`` (bicycle minutes)."""
    check_measure(measure)
    return "distance" if measure == "distance" and community_type in _WALKING_TYPES else "time"


def search_profile(profile_name: str, community_type: str, measure: str) -> str:
    """Name of the graph a community's points are searched on: the travel profile (``walk``, ``bike``)
    or, when judged by distance, its distance twin (``walk_distance``)."""
    if judged_by(community_type, measure) == "distance":
        return profile_name + DISTANCE_SUFFIX
    return profile_name


def distance_profile(profile: Profile) -> Profile:
    """``profile``'s distance twin: the same ways (mode, steps allowed or not) at 1 m/s everywhere (steps
    and the off-street leg at full length), so a search's seconds are metres. It remembers the speed of
    the profile it came from (``reference_speed_m_s``) to state the time a distance takes there."""
    if profile.measure == "distance":
        return profile
    return dataclasses.replace(
        profile,
        name=profile.name + DISTANCE_SUFFIX,
        speed_m_s=1.0,
        steps_speed_factor=1.0,
        offstreet_m_s=1.0,
        label=f"{profile.label} — distance (m)",
        source="project choice: 1 m/s is a unit conversion (a search's seconds are metres); "
        f"ways of the {profile.name!r} profile",
        measure="distance",
        reference_speed_m_s=profile.speed_m_s,
    )
