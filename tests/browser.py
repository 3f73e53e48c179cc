"""Open a page in a real headless Chromium (Debian's ``chromium``) over the DevTools protocol: what rendered,
what the console said, and a screenshot. aiohttp (installed with Ray) speaks the protocol's WebSocket."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class PageResult:
    facts: dict[str, Any]
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""


async def _visit(ws_url: str, url: str, script: str, wait_s: float) -> PageResult:
    import aiohttp

    errors: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:
        ids = iter(range(1, 1_000_000))
        pending: dict[int, asyncio.Future] = {}
        loaded = asyncio.Event()

        async def reader() -> None:
            async for msg in ws:
                data = json.loads(msg.data)
                if "id" in data and data["id"] in pending:
                    pending.pop(data["id"]).set_result(data)
                method = data.get("method")
                params = data.get("params", {})
                if method == "Page.loadEventFired":
                    loaded.set()
                elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                    errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
                elif method == "Runtime.exceptionThrown":
                    details = params.get("exceptionDetails", {})
                    errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
                elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                    errors.append(params["entry"].get("text", ""))

        async def call(method: str, **params: Any) -> dict[str, Any]:
            key = next(ids)
            pending[key] = asyncio.get_running_loop().create_future()
            await ws.send_str(json.dumps({"id": key, "method": method, "params": params}))
            answer = await asyncio.wait_for(pending[key], 60)
            if "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            return answer.get("result", {})

        task = asyncio.create_task(reader())
        for domain in ("Runtime", "Log", "Page"):
            await call(f"{domain}.enable")
        await call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
        await call("Page.navigate", url=url)
        await asyncio.wait_for(loaded.wait(), 60)
        await asyncio.sleep(wait_s)  # plots draw after load
        value = await call("Runtime.evaluate", expression=script, returnByValue=True)
        facts = value.get("result", {}).get("value") or {}
        shot = await call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        task.cancel()
    return PageResult(facts, errors, base64.b64decode(shot["data"]))


def open_page(path: Path, script: str, wait_s: float = 2.0) -> PageResult:
    """Load ``path`` (file://) in headless Chromium, run ``script`` (a JS expression) once it has drawn."""
    import urllib.request

    binary = chromium()
    if binary is None:
        raise RuntimeError("no chromium on PATH: apt-get install chromium")
    # Chromium's helpers (renderer, crash handler) can outlive its main process and still write to the profile: the
    # whole process group is ended, and a file they leave behind in the temporary profile fails no test.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 60
            while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("chromium did not start its DevTools endpoint")
                time.sleep(0.1)
            port = port_file.read_text().splitlines()[0]
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            page = next(t for t in targets if t.get("type") == "page")
            return asyncio.run(_visit(page["webSocketDebuggerUrl"], path.resolve().as_uri(), script, wait_s))
        finally:
            _end_group(proc)


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM to Chromium's process group, then SIGKILL to whatever of it is left."""
    import os
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)
