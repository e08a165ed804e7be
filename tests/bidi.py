"""A small WebDriver BiDi client for Firefox, enough to test the review page there.

Firefox speaks WebDriver BiDi natively (``--remote-debugging-port``), so no geckodriver is needed;
Playwright's Firefox needs its own patched build, which cannot be downloaded here. This starts
Debian's ``firefox-esr`` headless with a fresh profile, loads a page, evaluates scripts in it and
collects the page's log entries (console errors, uncaught exceptions).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

# Preferences for a quiet, offline test profile: no updates, telemetry or first-run pages, media
# may play without a click.
PREFS = {
    "media.autoplay.default": 0,
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "network.dns.disableIPv6": True,
    "extensions.update.enabled": False,
}


def firefox_binary() -> str | None:
    return shutil.which("firefox-esr") or shutil.which("firefox")


class Firefox:
    """One headless Firefox with one tab: ``open(path)``, ``eval(js)``, ``errors``, ``close()``."""

    def __init__(self, binary: str, timeout: float = 60.0) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="subalign-ff-")
        Path(self.profile.name, "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-remote", "--profile", self.profile.name,
             f"--remote-debugging-port={port}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ids = itertools.count(1)
        self.stack = contextlib.ExitStack()
        self.log: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ws: ClientConnection = self.stack.enter_context(
                    connect(f"ws://127.0.0.1:{port}/session", max_size=None, open_timeout=2))
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("Firefox did not open its WebDriver BiDi port") from None
                time.sleep(0.2)
        self.command("session.new", {"capabilities": {}})
        self.command("session.subscribe", {"events": ["log.entryAdded"]})
        self.context = self.command("browsingContext.getTree", {})["contexts"][0]["context"]

    def command(self, method: str, params: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        """Send one command and wait for its answer (events that arrive meanwhile are kept)."""
        number = next(self.ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message.get("id") == number:
                if message.get("type") == "error":
                    raise RuntimeError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]
            if message.get("method") == "log.entryAdded":
                self.log.append(message["params"])

    def open(self, path: Path) -> None:
        self.command("browsingContext.navigate",
                     {"context": self.context, "url": path.resolve().as_uri(), "wait": "complete"})

    def eval(self, expression: str) -> Any:
        """The value of a JS expression (a promise is awaited), passed back through JSON."""
        result = self.command("script.evaluate", {
            "expression": f"Promise.resolve({expression}).then(v => JSON.stringify(v === undefined ? null : v))",
            "target": {"context": self.context}, "awaitPromise": True})
        if result.get("type") == "exception":
            raise RuntimeError(f"script failed: {result['exceptionDetails'].get('text')}")
        return json.loads(result["result"]["value"])

    @property
    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions logged by pages so far."""
        return [e.get("text", "") for e in self.log if e.get("level") == "error"]

    def close(self) -> None:
        try:
            if hasattr(self, "ws"):
                self.command("browser.close", {}, timeout=10)
            self.stack.close()
        except Exception:  # the browser is going away anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.profile.cleanup()
