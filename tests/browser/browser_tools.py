"""Helpers of the real-browser tests: where Chromium is, its flags, a service served by uvicorn on a free
loopback port in a thread, and pages whose requests are all routed (outside ones recorded and aborted)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chromium import CHROMIUM
from circles.outputs.print_render import BROWSER_FLAGS

#: The flags every browser run takes: headless, no sandbox (containers), nothing fetched by Chromium itself
#: (the same as the print renderer's).
CHROMIUM_FLAGS = list(BROWSER_FLAGS)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"chromium not installed ({CHROMIUM}; `apt-get install chromium`, or set CIRCLES_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (python package) not installed: pip install -e '.[dev]'"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running service: its base URL (http://127.0.0.1:PORT) and its uvicorn server."""

    url: str
    server: Any
    thread: threading.Thread


def serve(app: Any) -> Served:
    """Serve ``app`` on a free loopback port in a daemon thread; returns once it answers."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    return Served(f"http://127.0.0.1:{port}", server, thread)


def stop(served: Served) -> None:
    served.server.should_exit = True
    served.thread.join(timeout=10)


@dataclass
class Watched:
    """A page with every request recorded (outside ones aborted) and every JavaScript error."""

    page: Any
    base: str
    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def clean(self) -> None:
        """Asserts no outside request and no JavaScript error so far."""
        assert self.outside == [], f"requests beyond the service: {self.outside}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"


def watch(browser: Any, base: str, **context: Any) -> Watched:
    """A new page in a fresh context whose requests are all routed: loopback ones continue, any other is
    recorded and aborted (the app must work offline)."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1, **context)
    page = ctx.new_page()
    w = Watched(page, base)

    def route(r: Any) -> None:
        url = r.request.url
        w.requests.append(url)
        if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            r.continue_()
        else:
            w.outside.append(url)
            r.abort()

    ctx.route("**/*", route)
    page.on("pageerror", lambda e: w.errors.append(f"pageerror: {e}"))
    page.on(
        "console", lambda m: w.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
    )
    return w


def service_app(browser_plan: Any, state_dir: Path, **settings: Any) -> Any:
    """The service on ``browser_plan`` (no planning at start-up) with its state in ``state_dir``."""
    from api import create_app
    from api.settings import Settings
    from api.state import ServiceState

    return create_app(state=ServiceState(Settings(state_dir=state_dir, **settings), base=browser_plan))


def screenshot(page: Any, path: Path, **options: Any) -> Path:
    """A PNG screenshot of ``page``; with Pillow installed it is stored with a 256-colour palette (a
    third of the size, for pictures kept in the repository)."""
    png = page.screenshot(**options)
    try:
        import io

        from PIL import Image
    except ImportError:
        path.write_bytes(png)
        return path
    with Image.open(io.BytesIO(png)) as img:
        img.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    return path
