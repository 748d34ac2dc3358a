"""The workbench against a service with a write token: the first write is a 401, the page asks for the
token (kept in sessionStorage only), sends it as ``Authorization: Bearer`` and the write goes through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_tools import serve, service_app, stop, watch

pytestmark = pytest.mark.browser

TOKEN = "browser-test-token-0123456789"


@pytest.fixture(scope="module")
def token_service(browser_plan, tmp_path_factory) -> Iterator[str]:
    served = serve(service_app(browser_plan, tmp_path_factory.mktemp("token_service"), write_token=TOKEN))
    yield served.url
    stop(served)


def test_asks_for_the_token_and_sends_it(chromium, token_service):
    w = watch(chromium, token_service)
    page: Any = w.page
    sent: list[str] = []
    page.on(
        "request", lambda r: sent.append(r.headers.get("authorization", "")) if r.method == "POST" else None
    )
    try:
        page.goto(token_service + "/")
        page.wait_for_selector("body.ready", timeout=60_000)
        page.fill("#new-scenario-name", "with a token")
        page.click("#new-scenario-form button[type=submit]")
        page.wait_for_selector("#token-dialog[open]", timeout=20_000)
        page.fill("#token-input", TOKEN)
        page.click("#token-ok")
        page.wait_for_function("circlesApp.view.scenario !== ''", timeout=20_000)
        assert page.evaluate("sessionStorage.getItem('circles.writeToken')") == TOKEN
        assert sent[0] == "" and sent[-1] == f"Bearer {TOKEN}"  # first without, then with the token
        assert page.input_value("#scenario") == page.evaluate("circlesApp.view.scenario")
        # the 401 of the first try is the only failed load
        assert [e for e in w.errors if "401" not in e] == []
        assert w.outside == []
    finally:
        page.context.close()
