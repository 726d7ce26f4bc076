"""
Hosts for multi-host tests: Linux network namespaces joined by veth links.

Each host is a network namespace (``ip netns add``) with its own loopback and
ports, so a test can run a real topology on one machine and break it for
real: kill a host's process, take a link down. A veth pair is created
straight into its two namespaces (``ip -n A link add ... peer ... netns B``):
nothing ever appears among this machine's own interfaces, and deleting the
namespaces deletes the links. A host reaches only the other ends of its own
links, unless a test makes another host their router (:meth:`Network.route`).
Namespace names carry the pid of the test run, so parallel runs never collide
and a run that was killed can be cleaned up by the next one
(:func:`removeStale`).

Processes run under ``ip netns exec`` (which execs, so the pid is the
program's own) with their stdout and stderr drained by threads as they come:
a pipe never fills and stalls a subscriber, and tests wait on
:meth:`Process.waitUntil` with a deadline instead of sleeping.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import IO

__all__ = [
    "Host",
    "Link",
    "NetnsError",
    "Network",
    "Process",
    "ip",
    "removeStale",
    "unavailable",
]

#: Every namespace made here is named PREFIX-PID-N-LABEL.
PREFIX = "txzpub-mh"
#: Seconds an ``ip`` command may take.
IP_TIMEOUT = 10.0
#: Seconds a process gets to exit after SIGTERM (then SIGKILL), and after SIGKILL.
STOP_TIMEOUT = 5.0

_numbers = itertools.count()
_STALE = re.compile(rf"^({re.escape(PREFIX)}-(\d+)-\S+)")


class NetnsError(Exception):
    """An ``ip`` command failed; the message has its stderr."""


def ip(*args: str) -> str:
    """Run ``ip ARGS``; return its stdout, raise NetnsError with its stderr on failure."""
    command = ["ip", *args]
    try:
        done = subprocess.run(  # noqa: S603 - fixed program, arguments made here
            command, capture_output=True, text=True, timeout=IP_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        msg = f"{' '.join(command)}: {error}"
        raise NetnsError(msg) from None
    if done.returncode != 0:
        msg = f"{' '.join(command)}: {done.stderr.strip() or f'exit status {done.returncode}'}"
        raise NetnsError(msg)
    return done.stdout


def unavailable() -> str | None:
    """Why namespaces and veth links cannot be made here, or None if they can."""
    if os.geteuid() != 0:
        return f"not running as root (euid {os.geteuid()})"
    if shutil.which("ip") is None:
        return "no `ip` command (install iproute2)"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    try:
        ip("netns", "add", probe)
    except NetnsError as error:
        return str(error)
    try:
        ip("-n", probe, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
    except NetnsError as error:
        return f"cannot create veth links: {error}"
    finally:
        with suppress(NetnsError):
            ip("netns", "delete", probe)
    return None


def removeStale() -> list[str]:
    """
    Delete the namespaces of test runs that were killed before cleaning up
    (their pid is gone), and kill what still runs in them; return their names.
    """
    removed = []
    for line in ip("netns", "list").splitlines():
        found = _STALE.match(line)
        if found is None or _alive(int(found.group(2))):
            continue
        namespace = found.group(1)
        with suppress(NetnsError):
            for pid in ip("netns", "pids", namespace).split():
                with suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            ip("netns", "delete", namespace)
            removed.append(namespace)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Process:
    """
    A program running in a host, its output lines collected by two threads.

    *onLine(stream, line)*, if given, is called for each line (stream is
    ``"out"`` or ``"err"``) by a reader thread holding the lock that
    :meth:`waitUntil` predicates run under, so it can keep parsed state that
    predicates read cheaply.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        onLine: Callable[[str, str], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.out: list[str] = []
        self.err: list[str] = []
        self._onLine = onLine
        self._changed = threading.Condition()
        self._open = 2
        self.popen = subprocess.Popen(  # noqa: S603 - our own programs
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.popen.stdout is not None
        assert self.popen.stderr is not None
        self._threads = [
            threading.Thread(
                target=self._drain, args=(stream, kind, lines), name=f"{name}-{kind}", daemon=True
            )
            for stream, kind, lines in (
                (self.popen.stdout, "out", self.out),
                (self.popen.stderr, "err", self.err),
            )
        ]
        for thread in self._threads:
            thread.start()

    def __repr__(self) -> str:
        with self._changed:
            tail = "\n".join(self.out[-10:])
            err = "\n".join(self.err)
        argv = " ".join(arg if len(arg) < 80 else "<program>" for arg in self.argv)
        return (
            f"{self.name} ({argv}), exit status {self.popen.poll()}\n"
            f"--- last stdout lines:\n{tail}\n--- stderr:\n{err}"
        )

    def _drain(self, stream: IO[bytes], kind: str, lines: list[str]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._changed:
                lines.append(line)
                if self._onLine is not None:
                    self._onLine(kind, line)
                self._changed.notify_all()
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    def waitUntil(self, ready: Callable[[], object], what: str, timeout: float) -> float:
        """
        Wait until *ready()* is true (checked as each line arrives); return the
        time.monotonic() when it was. Fail after *timeout* seconds, or at once
        if the program's output ends first.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    msg = f"no {what} within {timeout:g} s from {self!r}"
                    raise AssertionError(msg)
                if not self._open:
                    msg = f"{self.name} ended before {what}: {self!r}"
                    raise AssertionError(msg)
                self._changed.wait(remaining)
            return time.monotonic()

    def errLine(self, pattern: str, what: str, timeout: float) -> re.Match[str]:
        """Wait for a stderr line matching *pattern*; return its match."""
        found: list[re.Match[str]] = []

        def matched() -> bool:
            found[:] = [m for line in self.err if (m := re.search(pattern, line))]
            return bool(found)

        self.waitUntil(matched, what, timeout)
        return found[0]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send *signum* (SIGKILL if it does not end in time); return its exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signum)
        try:
            status = self.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            status = self.popen.wait(STOP_TIMEOUT)
        for thread in self._threads:  # its output is complete once both pipes are drained
            thread.join(STOP_TIMEOUT)
        return status

    def close(self) -> None:
        """Kill it if it still runs, reap it and close its pipes; never raises."""
        with suppress(OSError, subprocess.TimeoutExpired):
            if self.popen.poll() is None:
                self.popen.kill()
            self.popen.wait(STOP_TIMEOUT)
        for thread in self._threads:
            thread.join(STOP_TIMEOUT)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with suppress(OSError):
                    stream.close()


class Host:
    """One network namespace: a machine with its own interfaces, routes and ports."""

    def __init__(self, label: str, namespace: str) -> None:
        self.label = label
        self.namespace = namespace

    def __repr__(self) -> str:
        return f"Host({self.label!r}, {self.namespace!r})"

    def ip(self, *args: str) -> str:
        """Run ``ip ARGS`` in this host."""
        return ip("-n", self.namespace, *args)

    def command(self, *argv: str) -> list[str]:
        """*argv* run in this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def forward(self) -> None:
        """Turn IPv4 forwarding on here: this host routes between its links."""
        # The file belongs to the network namespace of whoever opens it: a
        # shell in this host writes this host's setting, not the machine's.
        command = self.command("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        try:
            done = subprocess.run(  # noqa: S603 - fixed program, arguments made here
                command, capture_output=True, text=True, timeout=IP_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            msg = f"{self.label}: IPv4 forwarding: {error}"
            raise NetnsError(msg) from None
        if done.returncode != 0:
            msg = f"{self.label}: IPv4 forwarding: {done.stderr.strip() or done.returncode}"
            raise NetnsError(msg)


class Link:
    """A veth pair: *device* on each host, with a /30 address on each end."""

    def __init__(self, ends: tuple[tuple[Host, str, str], tuple[Host, str, str]]) -> None:
        self.ends = ends

    def address(self, host: Host) -> str:
        """The address of *host*'s end."""
        return next(address for each, _, address in self.ends if each is host)

    def device(self, host: Host) -> str:
        return next(device for each, device, _ in self.ends if each is host)

    def setDown(self, host: Host) -> None:
        """Take *host*'s end down: nothing passes either way until setUp()."""
        host.ip("link", "set", self.device(host), "down")

    def setUp(self, host: Host) -> None:
        host.ip("link", "set", self.device(host), "up")


class Network:
    """
    Hosts, the links between them and the processes they run; close() undoes
    all of it, whatever state a failed test left it in.
    """

    #: Links get /30s from 198.18.0.0/15 (RFC 2544: for benchmarking, never routed),
    #: which is unlikely to clash with anything; the namespaces are isolated anyway.
    SUBNET = "198.18.{0}.{1}"

    def __init__(self) -> None:
        self.run = f"{PREFIX}-{os.getpid()}-{next(_numbers)}"
        self.hosts: list[Host] = []
        self.links: list[Link] = []
        self.processes: list[Process] = []

    def host(self, label: str) -> Host:
        """A new host (namespace) with its loopback up."""
        made = Host(label, f"{self.run}-{label}")
        ip("netns", "add", made.namespace)
        self.hosts.append(made)
        made.ip("link", "set", "lo", "up")
        return made

    def link(self, left: Host, leftDevice: str, right: Host, rightDevice: str) -> Link:
        """Join two hosts by a veth pair on a /30 of their own, both ends up."""
        subnet = len(self.links) + 1
        left.ip(
            "link", "add", leftDevice, "type", "veth", "peer", "name", rightDevice,
            "netns", right.namespace,
        )  # fmt: skip
        ends = (
            (left, leftDevice, self.SUBNET.format(subnet, 1)),
            (right, rightDevice, self.SUBNET.format(subnet, 2)),
        )
        made = Link(ends)
        self.links.append(made)
        for host, device, address in ends:
            host.ip("address", "add", f"{address}/30", "dev", device)
            host.ip("link", "set", device, "up")
        return made

    def route(self, router: Host) -> None:
        """
        Make *router* the router of the hosts linked to it: it forwards IPv4,
        and each of them gets a default route through its end of their link,
        so they reach one another's addresses through it (until then a host
        reaches only the other ends of its own links). Taking a link down
        cuts this path too; killing a program in *router* does not.
        """
        router.forward()
        for link in self.links:
            hosts = [host for host, _, _ in link.ends]
            if router in hosts:
                (other,) = (host for host in hosts if host is not router)
                other.ip("route", "add", "default", "via", link.address(router))

    def spawn(
        self,
        host: Host,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        onLine: Callable[[str, str], None] | None = None,
    ) -> Process:
        """Start *argv* in *host*; close() kills it if nobody stopped it."""
        process = Process(f"{name}@{host.label}", host.command(*argv), env, onLine)
        self.processes.append(process)
        return process

    def close(self) -> None:
        """Kill every process, then delete every namespace (and so every link)."""
        for process in self.processes:
            process.close()
        failures = []
        for host in self.hosts:
            try:
                ip("netns", "delete", host.namespace)
            except NetnsError as error:
                failures.append(str(error))
        self.hosts.clear()
        if failures:
            raise NetnsError("; ".join(failures))
