"""The Chromium the browser tests drive: the one the print renderer would use
(:func:`circles.outputs.print_render.find_chromium`: ``$CIRCLES_CHROMIUM`` or the system browser)."""

from __future__ import annotations

from circles.outputs.print_render import ChromiumNotFoundError, find_chromium


def _chromium() -> str | None:
    try:
        return str(find_chromium())
    except ChromiumNotFoundError:
        return None


#: path of the browser, or None when none is installed
CHROMIUM_PATH = _chromium()
#: a path to show in skip reasons and to pass to launchers (does not exist when none is installed)
CHROMIUM = CHROMIUM_PATH or "/usr/bin/chromium"
