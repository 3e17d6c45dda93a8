"""`/docs` in a real browser: headless Chromium renders every operation of the API, and the page asks
nothing of the internet.

The unit test (tests/unit/api/test_docs_offline.py) proves the assets are served; only a browser shows
that Swagger UI can read the spec: Swagger UI 4 showed this very page as "Unable to render this
definition", because FastAPI's spec is OpenAPI 3.1.
"""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from api.main import create_app
from dnsorch.settings import Settings
from tests.fixtures.waiting import eventually_sync

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
RENDERED_OPERATIONS = """[...document.querySelectorAll('.opblock')].map(block => [
    block.querySelector('.opblock-summary-method')?.textContent,
    block.querySelector('.opblock-summary-path')?.dataset.path,
])"""
NOWHERE = "127.0.0.1:1"  # nothing listens on port 1
DOCS_HOST = "dnsorch.test"
"""The name the browser knows the API by: a deployment's docs are not on loopback, and Swagger UI
treats URLs naming localhost or 127.0.0.1 differently (its online validator badge is skipped)."""


@pytest.fixture
def api_port() -> Iterator[int]:
    """The API in a thread of this process, on a port of its own: the docs page needs neither its
    database nor Temporal, so both point nowhere."""
    settings = Settings(database_url=f"postgresql+psycopg2://nobody@{NOWHERE}/none", temporal_address=NOWHERE)
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="docs-api")
    thread.start()
    try:
        eventually_sync(lambda: server.started or not thread.is_alive(), timeout=30, what="the API listening")
        assert thread.is_alive(), "the API stopped while starting"
        yield int(listener.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


class DevTools:
    """Just enough of the Chrome DevTools protocol: a command waits for its answer, and every event
    that arrives meanwhile is kept, in order, in `events`."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            answer = json.loads(self._socket.recv(timeout=30))
            if answer.get("id") != message_id:
                self.events.append(answer)
            elif "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            else:
                return dict(answer["result"])


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium that reaches this machine only: DOCS_HOST resolves to 127.0.0.1, every other
    name fails to resolve, and every other address goes to a proxy where nothing listens."""
    chromium = shutil.which("chromium")
    assert chromium, "no `chromium` on PATH (Debian package `chromium`): /docs cannot be checked in a browser"
    profile = tmp_path / "chromium-profile"
    arguments = [
        "--headless",
        "--no-sandbox",  # the suite runs as root, where Chromium's sandbox refuses to start
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",  # Chromium picks the port and writes it to DevToolsActivePort
        f"--proxy-server=http://{NOWHERE}",
        f"--proxy-bypass-list={DOCS_HOST}",
        f"--host-resolver-rules=MAP {DOCS_HOST} 127.0.0.1, MAP * ~NOTFOUND",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "about:blank",
    ]
    with open(tmp_path / "chromium.log", "wb") as log:
        process = subprocess.Popen([chromium, *arguments], stdout=log, stderr=subprocess.STDOUT)
    try:
        active_port = profile / "DevToolsActivePort"
        port, path = eventually_sync(
            lambda: active_port.read_text().split() if active_port.exists() else [],
            lambda lines: len(lines) == 2,
            timeout=60,
            what="Chromium's DevTools endpoint",
            explain=lambda: (tmp_path / "chromium.log").read_text(errors="replace")[-2000:],
        )
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as socket:
            yield DevTools(socket)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_docs_render_every_operation_without_leaving_the_machine(api_port: int, browser: DevTools) -> None:
    spec = httpx.get(f"http://127.0.0.1:{api_port}/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert operations, "the spec has no operation to look for"
    site = f"http://{DOCS_HOST}:{api_port}"

    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    page = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.call("Network.enable", page)
    browser.call("Page.navigate", page, url=f"{site}/docs")

    def look() -> dict[str, Any]:
        found = browser.call("Runtime.evaluate", page, expression=RENDERED_OPERATIONS, returnByValue=True)
        text = browser.call(
            "Runtime.evaluate", page, expression="document.body?.innerText", returnByValue=True
        )
        rendered = {tuple(operation) for operation in found["result"].get("value", [])}
        return {"missing": sorted(operations - rendered), "page": str(text["result"].get("value"))[:300]}

    eventually_sync(
        look, lambda seen: not seen["missing"], timeout=60, what="every operation rendered by /docs"
    )
    requests = eventually_sync(
        lambda: network_log(browser, page),
        lambda log: not log.pending,
        timeout=30,
        what="the page's requests ended",
    )
    assert f"{site}/openapi.json" in requests.urls
    elsewhere = [
        url for url in requests.urls if urlsplit(url).scheme not in {"data", "blob"} and not on(site, url)
    ]
    assert not elsewhere, f"the docs page asked for something beyond dnsorch: {elsewhere}"


@dataclass(frozen=True)
class NetworkLog:
    urls: list[str]
    """Every URL the page asked for, redirects included, in order."""
    pending: set[str]
    """The ids of the requests neither answered nor failed yet."""


def network_log(browser: DevTools, page: str) -> NetworkLog:
    browser.call("Runtime.evaluate", page, expression="0")  # collects the events that arrived meanwhile
    events = [event for event in browser.events if event.get("sessionId") == page]
    sent = [event["params"] for event in events if event.get("method") == "Network.requestWillBeSent"]
    ended = {
        event["params"]["requestId"]
        for event in events
        if event.get("method") in {"Network.loadingFinished", "Network.loadingFailed"}
    }
    return NetworkLog(
        [params["request"]["url"] for params in sent], {params["requestId"] for params in sent} - ended
    )


def on(site: str, url: str) -> bool:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" == site
