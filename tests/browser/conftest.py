"""Real-browser fixtures: the service on the default region, served by uvicorn on a free loopback port
(in a thread, with its own state folder), and Debian's headless Chromium driven by playwright with the
system browser (``executable_path``; downloading browsers is not possible here).

Everything here skips with a reason when playwright or Chromium is missing. Screenshots go to a temporary
folder, or to ``$CIRCLES_SCREENSHOTS`` when set (``CIRCLES_SCREENSHOTS=docs/screenshots`` refreshes the
README's pictures)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_tools import CHROMIUM, CHROMIUM_FLAGS, browser_missing, serve, service_app, stop


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    reason = browser_missing()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "browser: drives a real (headless) Chromium; skipped without one")


@pytest.fixture(scope="session")
def browser_plan(chengdu_osm):
    """The default region's plan as the service makes it (no edits), shared by the services here."""
    from api.settings import Settings
    from circles.pipeline import plan

    return plan(Settings().plan_options())


@pytest.fixture(scope="module")
def live_service(browser_plan, tmp_path_factory) -> Iterator[str]:
    """The base URL of a service on the default region (no write token: loopback writes)."""
    if browser_missing():
        pytest.skip(browser_missing() or "")
    served = serve(service_app(browser_plan, tmp_path_factory.mktemp("browser_service")))
    yield served.url
    stop(served)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system browser) driven by playwright."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where screenshots go: $CIRCLES_SCREENSHOTS (e.g. docs/screenshots) or a temporary folder."""
    folder = Path(os.environ.get("CIRCLES_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
