"""The official names of 街道 (sub-districts) and 社区 (communities) of Chengdu's central districts, and
checking the names a planner's file gives against them.

Source: ``admin_names_nbs2023/`` of the shared data directory (NBS statistical division codes 2023:
62 街道 and 429 社区 of 锦江/青羊/金牛/武侯/成华; names only, no boundaries). Registered community names
end in 居委会/居民委员会/村委会; planners write 水井坊社区 or 水井坊. Unknown names are reported with
near matches, never dropped: communities were merged and renamed after many data sets were made.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..errors import DataFileError

log = logging.getLogger(__name__)

ADMIN_SOURCE = "NBS statistical division codes 2023 (admin_names_nbs2023/)"

_COMMUNITY_SUFFIXES = (
    "社区居民委员会",
    "居民委员会",
    "村民委员会",
    "社区居委会",
    "居委会",
    "村委会",
    "社区",
    "村",
)
_STREET_SUFFIXES = ("街道办事处", "街道办", "街道", "镇", "乡")


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))


def _stem(text: str, suffixes: tuple[str, ...]) -> str:
    """水井坊社区居委会 / 水井坊社区 / 水井坊 -> 水井坊."""
    s = _plain(text)
    for suffix in suffixes:
        if s.endswith(suffix) and len(s) > len(suffix):
            return s[: -len(suffix)]
    return s


@dataclass(frozen=True)
class NameCheck:
    """How a given name matches the official list: ``status`` is ``exact`` (as registered),
    ``matched`` (the same stem, e.g. 水井坊社区 for 水井坊社区居委会), ``near`` (close spellings in
    ``suggestions``) or ``unknown``; ``official`` is the registered name when matched."""

    given: str
    level: str
    status: str
    official: str | None = None
    code: str | None = None
    suggestions: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.status in ("exact", "matched")

    def describe(self) -> str:
        if self.known:
            return f"{self.given}: {self.status} ({self.official})"
        near = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        level = "街道 sub-districts" if self.level == "street" else "社区 communities"
        return f"{self.given}: not in the official 2023 list of {level}{near}"


@dataclass(frozen=True)
class AdminNames:
    """Official 街道 and 社区 names with codes; ``street_of`` maps a community code to its street code."""

    streets: dict[str, str]  # code -> name
    communities: dict[str, str]  # code -> name
    street_of: dict[str, str]
    district_of_street: dict[str, str]
    _stems: dict[str, dict[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._stems["street"] = {_stem(n, _STREET_SUFFIXES): c for c, n in self.streets.items()}
        self._stems["community"] = {_stem(n, _COMMUNITY_SUFFIXES): c for c, n in self.communities.items()}

    def check(self, name: str, level: str) -> NameCheck:
        """Check ``name`` at ``level`` ('street' for 街道, 'community' for 社区)."""
        names = self.streets if level == "street" else self.communities
        suffixes = _STREET_SUFFIXES if level == "street" else _COMMUNITY_SUFFIXES
        plain = _plain(name)
        for code, official in names.items():
            if official == plain:
                return NameCheck(name, level, "exact", official, code)
        stem = _stem(plain, suffixes)
        stem_code = self._stems[level].get(stem)
        if stem_code is not None:
            return NameCheck(name, level, "matched", names[stem_code], stem_code)
        near = difflib.get_close_matches(stem, list(self._stems[level]), n=3, cutoff=0.6)
        suggestions = tuple(names[self._stems[level][s]] for s in near)
        return NameCheck(name, level, "near" if suggestions else "unknown", suggestions=suggestions)

    def check_all(self, names: pd.Series, level: str) -> pd.DataFrame:
        """One row per distinct non-blank name: ``name``, ``status``, ``official``, ``code``,
        ``suggestions``."""
        rows = []
        for name in dict.fromkeys(n for n in names.dropna().astype(str) if n.strip()):
            c = self.check(name, level)
            rows.append(
                {
                    "name": name,
                    "status": c.status,
                    "official": c.official,
                    "code": c.code,
                    "suggestions": "; ".join(c.suggestions),
                }
            )
        return pd.DataFrame(rows, columns=["name", "status", "official", "code", "suggestions"])


def read_admin_names(folder: Path) -> AdminNames:
    """:class:`AdminNames` from ``streets.csv`` and ``communities.csv`` in ``folder``."""
    try:
        streets = pd.read_csv(folder / "streets.csv", dtype=str)
        comms = pd.read_csv(folder / "communities.csv", dtype=str)
        return AdminNames(
            streets=dict(zip(streets["code"], streets["name"])),
            communities=dict(zip(comms["code"], comms["name"])),
            street_of=dict(zip(comms["code"], comms["streetCode"])),
            district_of_street=dict(zip(streets["code"], streets["areaCode"])),
        )
    except (OSError, KeyError, pd.errors.ParserError) as e:
        raise DataFileError(f"{folder}: official name lists unreadable ({e})") from e


@lru_cache(maxsize=4)
def admin_names_for(data_dir: str) -> AdminNames | None:
    """:func:`read_admin_names` of ``<data_dir>/admin_names_nbs2023`` (cached), or None when absent."""
    folder = Path(data_dir) / "admin_names_nbs2023"
    if not folder.is_dir():
        log.info("%s not found: names of 街道/社区 are not checked", folder)
        return None
    return read_admin_names(folder)
