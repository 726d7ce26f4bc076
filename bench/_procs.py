"""
Launching benchmark processes, with a timeout on everything.

A run is a *server* process (it binds and reports ``ready`` with its endpoints)
and a *client* process started with those endpoints; see bench/_common.py for
the ``@bench`` line protocol. Every wait has a deadline, and whatever has not
finished by then is killed, so a broken or slow implementation costs its
timeout and a line in the table, never a hung suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench._common import PREFIX

ROOT = Path(__file__).resolve().parent.parent


class Child:
    """One benchmark process: ``python -m bench.impls.<module> '<json>'``."""

    def __init__(self, module: str, cfg: dict) -> None:
        self.module = module
        self.messages: queue.Queue[dict] = queue.Queue()
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"bench.impls.{module}", json.dumps(cfg)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                with contextlib.suppress(ValueError):
                    self.messages.put(json.loads(line[len(PREFIX) :]))
        self.messages.put({"eof": True})

    def wait(self, until: float) -> dict:
        """The next message (ready/result/error/skip), or an error dict at the deadline."""
        try:
            message = self.messages.get(timeout=max(0.0, until - time.monotonic()))
        except queue.Empty:
            return {"error": "timeout", "timeout": True}
        if message.get("eof"):
            self.messages.put(message)
            self.proc.wait(timeout=5)
            return {"error": f"exited with code {self.proc.returncode}: {self.tail()}"}
        return message

    def tail(self, limit: int = 300) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").strip()
        lines = [x for x in text.splitlines() if x.strip()]
        return (lines[-1] if lines else "no output")[-limit:]

    def stop(self, grace: float = 0.0) -> None:
        """Wait up to *grace* seconds for the process to exit, then kill it (by its pid)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only it
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait(timeout=10)
        self.stderr.close()


def runPair(
    server: str, serverCfg: dict, client: str, clientCfg: dict, timeout: float
) -> tuple[dict, dict]:
    """
    Start *server*, wait for its ready line, start *client* with its endpoints,
    and collect both results within *timeout* seconds. Returns
    (server message, client message); each is ``{"result": ...}`` or
    ``{"error": ...}`` or ``{"skip": ...}``.
    """
    limit = time.monotonic() + timeout
    serverCfg = {**serverCfg, "timeout": timeout}
    procs: list[Child] = []
    try:
        first = Child(server, serverCfg)
        procs.append(first)
        ready = first.wait(min(limit, time.monotonic() + 20))
        if "ready" not in ready:
            return ready, {"error": f"server not ready: {ready.get('error')}"}
        second = Child(client, {**clientCfg, **ready["ready"], "timeout": timeout})
        procs.append(second)
        clientMessage = second.wait(limit)
        if clientMessage.get("timeout"):
            clientMessage["error"] = f"timeout after {timeout:.0f} s"
        # The server ends once the client has gone; give it a moment to report
        # (just a glance if the client failed: the server is then usually stuck).
        grace = 0.5 if "error" in clientMessage else 5.0
        serverMessage = first.wait(time.monotonic() + grace)
        serverFailed = "error" in serverMessage and "timeout" not in serverMessage
        if "error" in clientMessage and serverFailed:
            clientMessage["error"] += f" [server: {serverMessage['error']}]"
        return serverMessage, clientMessage
    finally:
        for each in reversed(procs):
            each.stop(grace=0.5)
