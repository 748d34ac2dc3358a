"""The coverage map's print layout rendered headless with the system Chromium: a PDF page (A4 or A3
landscape) or a PNG of the same page, for reports.

The map page (:mod:`.webmap`) lays itself out for print when its address ends in ``#print=a4`` or
``#print=a3``: no side panel, zoom or layer controls; a title, legend, north arrow, scale, data
sources, sample-data note and date around the map. Chromium opens that address with a window the
size of the page (96 CSS px per inch) and prints it (``--print-to-pdf``, the page's ``@page`` rule
gives the paper) or takes a screenshot. No browser is downloaded: Debian's ``chromium`` (or any
Chromium/Chrome named by ``CIRCLES_CHROMIUM`` or found on ``PATH``) is used.

Offline by default: every host name is made unresolvable (``--host-resolver-rules``), so the page
cannot fetch anything (it needs nothing: Leaflet and its data are inlined). Pass ``offline=False``
for a map drawn on online tiles.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

__all__ = [
    "BROWSER_FLAGS",
    "CHROMIUM_NAMES",
    "PAPER_MM",
    "ChromiumNotFoundError",
    "check_print_outputs",
    "chromium_command",
    "find_chromium",
    "paper_px",
    "print_map",
    "print_url",
    "render_pdf",
    "render_png",
]

log = logging.getLogger(__name__)

#: Landscape paper sizes, (width, height) in millimetres.
PAPER_MM = {"a4": (297.0, 210.0), "a3": (420.0, 297.0)}
#: Executables tried in turn (after ``$CIRCLES_CHROMIUM``) on ``PATH``, then as absolute paths.
CHROMIUM_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "/usr/bin/chromium",
)
#: Flags for a quiet, private, headless run that talks to no Google service.
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)
#: Every host name fails to resolve: the page cannot reach the network.
OFFLINE_FLAG = "--host-resolver-rules=MAP * ~NOTFOUND"
#: Virtual time the page gets to run its scripts before printing, milliseconds.
SETTLE_MS = 8000
#: CSS pixels per millimetre (96 px per inch).
PX_PER_MM = 96 / 25.4


class ChromiumNotFoundError(InputError):
    """No Chromium executable was found to render the print layout."""


def find_chromium(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The Chromium executable: ``explicit``, else ``$CIRCLES_CHROMIUM``, else the first of
    :data:`CHROMIUM_NAMES` found. Raises :class:`ChromiumNotFoundError` with a one-line message."""
    wanted = explicit or os.environ.get("CIRCLES_CHROMIUM")
    candidates = [str(wanted)] if wanted else list(CHROMIUM_NAMES)
    for name in candidates:
        found = shutil.which(name)
        if found:
            return Path(found)
    looked = ", ".join(candidates)
    raise ChromiumNotFoundError(
        f"no Chromium found for --pdf/--png (looked for {looked}); install it (Debian: apt install chromium) "
        "or set CIRCLES_CHROMIUM to its path"
    )


def _paper(paper: str) -> str:
    key = str(paper).strip().lower()
    if key not in PAPER_MM:
        raise InputError(f"paper must be one of {', '.join(PAPER_MM)}, not {paper!r}")
    return key


def paper_px(paper: str = "a4") -> tuple[int, int]:
    """Window size (CSS px at 96 per inch) of a landscape ``paper`` page, e.g. (1123, 794) for A4."""
    w_mm, h_mm = PAPER_MM[_paper(paper)]
    return round(w_mm * PX_PER_MM), round(h_mm * PX_PER_MM)


def print_url(page: str | os.PathLike[str], paper: str = "a4", view: str = "") -> str:
    """The ``file://`` address of map ``page`` in print mode on ``paper``; ``view`` adds state such as
    ``cat=park&min=15&district=成华区`` (see the page's script)."""
    extra = f"&{view.lstrip('#&')}" if view else ""
    return f"{Path(page).resolve().as_uri()}#print={_paper(paper)}{extra}"


def chromium_command(
    chromium: Path,
    url: str,
    mode: Sequence[str],
    *,
    window: tuple[int, int],
    profile_dir: Path,
    offline: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line of one headless run on ``url``; ``mode`` is e.g. ``["--print-to-pdf=F"]``."""
    return [
        str(chromium),
        *BROWSER_FLAGS,
        *([OFFLINE_FLAG] if offline else []),
        f"--user-data-dir={profile_dir}",
        f"--window-size={window[0]},{window[1]}",
        f"--virtual-time-budget={SETTLE_MS}",
        *mode,
        *extra,
        url,
    ]


def _run(
    page: str | os.PathLike[str],
    out: Path,
    mode_flag: str,
    extra_mode: Sequence[str],
    *,
    paper: str,
    view: str,
    offline: bool,
    chromium: str | os.PathLike[str] | None,
    timeout_s: float,
    extra: Sequence[str],
) -> Path:
    """Render ``page`` into ``out`` with ``mode_flag=<tmp file>``; the file is moved into place only
    when Chromium wrote it (so a failed run leaves no half file)."""
    exe = find_chromium(chromium)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="circles-print-") as tmp:
        tmp_out = Path(tmp) / f"out{out.suffix}"
        cmd = chromium_command(
            exe,
            print_url(page, paper, view),
            [f"{mode_flag}={tmp_out}", *extra_mode],
            window=paper_px(paper),
            profile_dir=Path(tmp) / "profile",
            offline=offline,
            extra=extra,
        )
        log.debug("chromium: %s", " ".join(cmd))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as e:
            raise InputError(f"chromium did not finish within {timeout_s:g} s rendering {out.name}") from e
        if proc.returncode != 0 or not tmp_out.exists() or tmp_out.stat().st_size == 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise InputError(f"chromium could not render {out.name} (exit {proc.returncode}): {tail}")
        shutil.move(str(tmp_out), out)
    return out


def render_pdf(
    page: str | os.PathLike[str],
    pdf: str | os.PathLike[str],
    *,
    paper: str = "a4",
    view: str = "",
    offline: bool = True,
    chromium: str | os.PathLike[str] | None = None,
    timeout_s: float = 120.0,
    extra: Sequence[str] = (),
) -> Path:
    """Print map ``page`` (an HTML file written by :func:`~.webmap.write_map`) to ``pdf``: one
    landscape ``paper`` page ('a4' or 'a3'). ``view``: page state (``cat=park&min=15``); ``extra``:
    more Chromium flags (e.g. ``--log-net-log=FILE``). Returns the PDF's path."""
    return _run(
        page,
        Path(pdf),
        "--print-to-pdf",
        ["--no-pdf-header-footer"],
        paper=paper,
        view=view,
        offline=offline,
        chromium=chromium,
        timeout_s=timeout_s,
        extra=extra,
    )


def render_png(
    page: str | os.PathLike[str],
    png: str | os.PathLike[str],
    *,
    paper: str = "a4",
    view: str = "",
    offline: bool = True,
    chromium: str | os.PathLike[str] | None = None,
    timeout_s: float = 120.0,
    extra: Sequence[str] = (),
) -> Path:
    """A PNG screenshot of map ``page``'s print layout on ``paper`` (at 96 px per inch: 1123 × 794
    for A4). Arguments as for :func:`render_pdf`. Returns the PNG's path."""
    return _run(
        page,
        Path(png),
        "--screenshot",
        [],
        paper=paper,
        view=view,
        offline=offline,
        chromium=chromium,
        timeout_s=timeout_s,
        extra=extra,
    )


def check_print_outputs(
    html: Path | None, pdf: Path | None, png: Path | None, paper: str = "a4"
) -> list[Path]:
    """The output files asked for (HTML, PDF, PNG), checked before any work is done: at least one,
    a known ``paper``, and a Chromium when a PDF or PNG is wanted (else
    :class:`ChromiumNotFoundError`)."""
    paths = [Path(p) for p in (html, pdf, png) if p is not None]
    if not paths:
        raise InputError("give --out FILE.html, --pdf FILE.pdf and/or --png FILE.png")
    _paper(paper)
    if pdf is not None or png is not None:
        find_chromium()
    return paths


def print_map(
    result: PlanResult,
    *,
    html: str | os.PathLike[str] | None = None,
    pdf: str | os.PathLike[str] | None = None,
    png: str | os.PathLike[str] | None = None,
    paper: str = "a4",
    view: str = "",
    **map_options: Any,
) -> list[Path]:
    """Write the coverage map of ``result`` as HTML (``html``) and/or its print layout as ``pdf`` /
    ``png`` on ``paper``; ``map_options`` go to :func:`~.webmap.write_map` (category, tiles,
    minutes, ...). Without ``html`` the page is written to a temporary folder. Rendering is offline
    unless the map uses online tiles. Returns the paths written (HTML, PDF, PNG order)."""
    from .webmap import write_map

    out: list[Path] = []
    offline = str(map_options.get("tiles") or "none").strip().lower() in ("", "none", "off", "no")
    with tempfile.TemporaryDirectory(prefix="circles-map-") as tmp:
        page = write_map(result, Path(html) if html is not None else Path(tmp) / "map.html", **map_options)
        if html is not None:
            out.append(page)
        if pdf is not None:
            out.append(render_pdf(page, pdf, paper=paper, view=view, offline=offline))
        if png is not None:
            out.append(render_png(page, png, paper=paper, view=view, offline=offline))
    return out
