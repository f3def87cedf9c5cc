"""A minimal Chrome DevTools Protocol client: open a page in headless Chromium, collect what went wrong.

Used by the report tests to look at report.html as a person would: console
errors, uncaught exceptions, failed resources, rendered images, a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1280,2000"]  # fmt: skip


def chromium() -> str | None:
    """Path of a Chromium binary, if one is installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class PageVisit:
    """What loading a page produced."""

    problems: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    evaluated: Any = None


def visit(url: str, script: str, timeout: float = 60.0) -> PageVisit:
    """Load ``url``, wait for the load event, evaluate ``script`` and take a screenshot."""
    profile = tempfile.mkdtemp(prefix="bt-chromium-")
    proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        ws_url = _devtools_url(proc, timeout)
        return _drive(ws_url, url, script, timeout)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_url(proc: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if match := re.search(r"DevTools listening on (ws://\S+)", line):
            browser_ws = match.group(1)
            port = re.search(r":(\d+)/", browser_ws).group(1)  # type: ignore[union-attr]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
                targets = json.loads(answer.read())
            return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    raise TimeoutError("Chromium did not start its DevTools endpoint")


def _drive(ws_url: str, url: str, script: str, timeout: float) -> PageVisit:
    ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
    ids = itertools.count(1)
    visit_ = PageVisit()
    events: list[dict[str, Any]] = []

    def call(method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(ids)
        ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            events.append(msg)

    for domain in ("Page", "Runtime", "Log", "Network"):
        call(f"{domain}.enable")
    call("Page.navigate", url=url)
    deadline = time.monotonic() + timeout
    while not any(e.get("method") == "Page.loadEventFired" for e in events):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not finish loading")
        events.append(json.loads(ws.recv()))
    time.sleep(1.0)  # let late console messages and iframes arrive
    visit_.evaluated = call("Runtime.evaluate", expression=script, returnByValue=True)["result"].get("value")
    visit_.screenshot = base64.b64decode(call("Page.captureScreenshot", format="png")["data"])
    ws.close()
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            described = details.get("exception", {}).get("description", "")
            visit_.problems.append(f"exception: {details.get('text')} {described} at {details.get('url', '')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            visit_.problems.append(f"console.error: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            visit_.problems.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            visit_.problems.append(f"failed resource: {params.get('errorText')}")
    return visit_


def page_url(path: Path) -> str:
    """file:// URL of a local page."""
    return path.resolve().as_uri()
