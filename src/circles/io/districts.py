"""Chengdu's districts (区/县/市) by name, and their 2020 census figures.

Names are matched the way planners write them: ``成华区``, ``成华``, ``Chenghua``, ``chenghua district``
all mean 成华区. Census figures come from ``census_2020_chengdu/`` of the shared data directory (2020
census, NBS county tabulation): resident population, average persons per family household and the
share of residents aged 65 and over.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..errors import DataFileError, InputError

log = logging.getLogger(__name__)

#: Official name -> English (pinyin) name of Chengdu's 20 county-level divisions and two planning areas.
DISTRICT_EN: dict[str, str] = {
    "锦江区": "Jinjiang",
    "青羊区": "Qingyang",
    "金牛区": "Jinniu",
    "武侯区": "Wuhou",
    "成华区": "Chenghua",
    "龙泉驿区": "Longquanyi",
    "青白江区": "Qingbaijiang",
    "新都区": "Xindu",
    "温江区": "Wenjiang",
    "双流区": "Shuangliu",
    "郫都区": "Pidu",
    "新津区": "Xinjin",
    "金堂县": "Jintang",
    "大邑县": "Dayi",
    "蒲江县": "Pujiang",
    "都江堰市": "Dujiangyan",
    "彭州市": "Pengzhou",
    "邛崃市": "Qionglai",
    "崇州市": "Chongzhou",
    "简阳市": "Jianyang",
    "高新区": "Hi-tech Zone",
    "天府新区": "Tianfu New Area",
}

#: Citation of the census figures, for outputs.
CENSUS_SOURCE = "2020 census (NBS county tabulation), census_2020_chengdu/"

_SUFFIXES = ("区", "县", "市")
_EN_SUFFIXES = ("district", "county", "city", "qu", "xian", "shi")


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(text)).strip().lower())


def _short(name: str) -> str:
    """成华区 -> 成华 (the name without its 区/县/市 suffix; two-character names keep theirs)."""
    return name[:-1] if len(name) > 2 and name.endswith(_SUFFIXES) else name


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, en in DISTRICT_EN.items():
        for key in (name, _short(name), en, f"{en} district", f"{en} county", f"{en} city"):
            table.setdefault(_plain(key), name)
        table.setdefault(_plain(en).replace(" ", "").replace("-", ""), name)
    return table


def district_name(text: str) -> str | None:
    """The official name of the district ``text`` names (成华 / 成华区 / Chenghua -> 成华区), or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    key = _plain(text)
    table = _lookup()
    if key in table:
        return table[key]
    for suffix in _EN_SUFFIXES:  # 'chenghua qu'
        if key.endswith(" " + suffix) and key[: -len(suffix) - 1] in table:
            return table[key[: -len(suffix) - 1]]
    compact = key.replace(" ", "").replace("-", "")
    return table.get(compact)


def resolve_district(text: str, known: list[str] | None = None) -> str:
    """As :func:`district_name`, restricted to ``known`` names when given (e.g. the districts a plan has);
    an unknown name is an :class:`InputError` listing the valid ones (Chinese and English)."""
    name = district_name(text)
    valid = known if known is not None else list(DISTRICT_EN)
    if name is None or name not in valid:
        listing = ", ".join(f"{d} ({DISTRICT_EN.get(d, '')})" if DISTRICT_EN.get(d) else d for d in valid)
        raise InputError(f"unknown district {text!r}; valid: {listing}")
    return name


@dataclass(frozen=True)
class DistrictCensus:
    """2020 census figures of one district: resident population (persons), average persons per
    family household, share of residents aged 65+ (0–1)."""

    name: str
    code: str
    population: int
    persons_per_household: float
    share_65plus: float


def read_census(census_dir: Path) -> dict[str, DistrictCensus]:
    """``{official district name: DistrictCensus}`` from ``population.csv``, ``households.csv`` and
    ``ages.csv`` in ``census_dir``; :class:`DataFileError` when a file or column is missing."""
    try:
        pop = pd.read_csv(census_dir / "population.csv", dtype={"CODE": str})
        hh = pd.read_csv(census_dir / "households.csv", dtype={"CODE": str})
        ages = pd.read_csv(census_dir / "ages.csv", dtype={"CODE": str})
        table = pop[["CODE", "NAME", "POPU"]].merge(hh[["CODE", "HHLD_S"]], on="CODE")
        table = table.merge(ages[["CODE", "AGES_65P"]], on="CODE")
    except (OSError, KeyError, pd.errors.ParserError) as e:
        raise DataFileError(f"{census_dir}: census tables unreadable ({e})") from e
    return {
        str(r.NAME): DistrictCensus(str(r.NAME), str(r.CODE), int(r.POPU), float(r.HHLD_S), float(r.AGES_65P))
        for r in table.itertuples()
    }


@lru_cache(maxsize=4)
def census_for(data_dir: str) -> dict[str, DistrictCensus]:
    """:func:`read_census` of ``<data_dir>/census_2020_chengdu`` (cached), or ``{}`` when absent."""
    path = Path(data_dir) / "census_2020_chengdu"
    if not path.is_dir():
        log.info("%s not found: no census figures", path)
        return {}
    return read_census(path)
