"""
CURVE at the command line: ``txzpub keygen``, and the --curve-* flags of pub,
sub and proxy, run as users run them (subprocesses, as in test_cli).

No sleep synchronises anything: tests wait, under deadlines, for the lines the
processes print. "A refused subscriber receives nothing" is shown the way
test_security shows it: the refusal is awaited in the server's stderr first,
then an admitted subscriber gets a later sentinel message; the refused one,
whose handshake already failed, has printed nothing. And no key, public or
secret, of any party appears in any output (keygen's public key aside).
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import zmq
import zmq.auth

from txzpub import CurveKeyPair, loadPublicKey
from txzpub._core._curve import fingerprint

from .test_cli import (
    ANY_PORT,
    PROXY_READY,
    PUBLISHER_ON,
    SUBSCRIBED,
    Running,
    assertClean,
    run,
    running,
)

PARTIES = ("server", "alice", "bob", "mallory", "proxy")
#: Every key of every party of the module's key directory, and of keygen's pairs.
EVERY_KEY: set[str] = set()
FAILED_HANDSHAKE = r"handshake with a peer at \S+ failed: "

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")


def remember(pair: CurveKeyPair) -> CurveKeyPair:
    EVERY_KEY.update({pair.publicKey.decode(), pair.secretKey.decode()})
    return pair


def dashed(*, secret: bool = False) -> CurveKeyPair:
    """A pair whose public (or secret) key starts with "-", as one in 85 does."""
    while True:
        pair = CurveKeyPair.generate()
        if (pair.secretKey if secret else pair.publicKey).startswith(b"-"):
            return pair


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """
    NAME -> (NAME.key, NAME.key_secret) paths; clients/ holds alice's and bob's NAME.key.
    The public keys of "dash" and "server2" start with "-", carol's secret key too.
    """
    directory = tmp_path_factory.mktemp("keys")
    clients = directory / "clients"
    clients.mkdir()
    found = SimpleNamespace(directory=directory, clients=str(clients), pairs={})
    for name in (*PARTIES, "dash", "server2", "carol"):
        if name in {"dash", "server2", "carol"}:
            pair = remember(dashed(secret=name == "carol"))
        else:
            pair = remember(CurveKeyPair.generate())
        public, secret = pair.save(directory, name)
        found.pairs[name] = pair
        setattr(found, name, str(public))
        setattr(found, f"{name}_secret", str(secret))
        if name in {"alice", "bob"}:
            (clients / public.name).write_text(public.read_text())
    return found


def assertNoKey(*processes: Running) -> None:
    for process in processes:
        for text in (process.stdout, process.stderr):
            assert not [key for key in EVERY_KEY if key in text], f"a key was shown: {process!r}"


def checked(process: Running, status: int = 0) -> Running:
    """It ended with *status*, cleanly, and showed no key."""
    assertClean(process, status)
    assertNoKey(process)
    return process


# -- keygen ----------------------------------------------------------------------------


def keygen(*args: str) -> tuple[Running, dict[str, str]]:
    process = run("keygen", *args)
    fields = dict(line.split(": ", 1) for line in process.out)
    return process, fields


def test_keygen_writes_a_pair_that_loads_everywhere(tmp_path: Path) -> None:
    process, fields = keygen("alice", "--directory", str(tmp_path))
    assertClean(process)
    public, secret = tmp_path / "alice.key", tmp_path / "alice.key_secret"
    assert fields["public certificate"] == str(public)
    assert fields["secret certificate"] == str(secret)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.key", "alice.key_secret"]
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    pair = remember(CurveKeyPair.load(secret))
    assert fields["public key"] == pair.publicKey.decode()
    assert fields["key fingerprint"] == fingerprint(pair.publicKey)
    assert loadPublicKey(public) == loadPublicKey(secret) == pair.publicKey
    assert zmq.auth.load_certificate(public) == (pair.publicKey, None)
    assert zmq.auth.load_certificate(secret) == (pair.publicKey, pair.secretKey)
    assert pair.secretKey.decode() not in process.stdout + process.stderr


def test_keygen_refuses_to_overwrite_and_force_replaces(tmp_path: Path) -> None:
    first, _ = keygen("node", "-d", str(tmp_path))
    assertClean(first)
    secret = tmp_path / "node.key_secret"
    old = remember(CurveKeyPair.load(secret))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    refused, _ = keygen("node", "-d", str(tmp_path))
    checked(refused, status=2)
    assert refused.err == [
        (
            f"txzpub keygen: error: '{tmp_path / 'node.key'}' exists; --force replaces the pair "
            "(its keys are lost), or choose another NAME"
        )
    ]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    replaced, fields = keygen("node", "-d", str(tmp_path), "--force")
    assertClean(replaced)
    new = remember(CurveKeyPair.load(secret))
    assert new.publicKey != old.publicKey
    assert fields["public key"] == new.publicKey.decode()
    assert loadPublicKey(tmp_path / "node.key") == new.publicKey
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.key", "node.key_secret"]
    assert replaced.err == [f"txzpub keygen: replaced the pair 'node' in '{tmp_path}'"]
    for pair in (old, new):
        assert pair.secretKey.decode() not in replaced.stdout + replaced.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a/b",), "NAME is a plain file name"),
        ((".hidden",), "NAME is a plain file name"),
        (("alice.key",), "give NAME without .key: `txzpub keygen alice`"),
        (("alice.key_secret",), "give NAME without .key_secret"),
        (
            ("alice", "-d", "/nonexistent/dir"),
            "--directory: '/nonexistent/dir' is not a directory",
        ),
        (("alice", "--forse"), "unrecognized arguments: --forse"),
    ],
)
def test_keygen_bad_input(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    process = run("keygen", *args) if "-d" in args else run("keygen", *args, "-d", str(tmp_path))
    assertClean(process, status=2)
    assert process.out == []
    assert len(process.err) == 1, process
    assert re.match(r"txzpub( keygen)?: error: ", process.err[0]), process
    assert message in process.err[0], process


# -- pub and sub -------------------------------------------------------------------------


def serverFlags(keys: SimpleNamespace, *allowed: str) -> tuple[str, ...]:
    allowKeys = [arg for key in allowed for arg in ("--allow-key", key)]
    return ("--curve-server-key", keys.server_secret, *allowKeys)


def clientFlags(keys: SimpleNamespace, name: str, server: str = "server") -> tuple[str, ...]:
    return ("--curve-client-key", getattr(keys, f"{name}_secret"), "--curve-server-key",
            getattr(keys, server))  # fmt: skip


def test_curve_pub_to_sub(keys: SimpleNamespace) -> None:
    with running(
        "pub", ANY_PORT, "-t", "news", "--wait-subscribers", "1", "-m", "secret plans",
        "-m", "more", *serverFlags(keys, keys.alice),
    ) as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        # The server's key as the 40 characters, this time.
        server = keys.pairs["server"].publicKey.decode()
        with running("sub", address, "--count", "2", "--curve-client-key", keys.alice_secret,
                     "--curve-server-key", server) as sub:  # fmt: skip
            assert sub.finish() == 0, sub
        assert publisher.finish() == 0, publisher
    checked(publisher)
    checked(sub)
    assert sub.out == ["news secret plans", "news more"]
    serverPrint = fingerprint(keys.pairs["server"].publicKey)
    alicePrint = fingerprint(keys.pairs["alice"].publicKey)
    assert publisher.err[0] == (
        f"txzpub pub: CURVE server, key fingerprint {serverPrint}; admits 1 client key(s)"
    )
    assert sub.err[0] == (
        f"txzpub sub: CURVE client, key fingerprint {alicePrint}, "
        f"of the server with key fingerprint {serverPrint}"
    )


def test_keys_starting_with_a_dash_are_keys_not_options(keys: SimpleNamespace) -> None:
    server, client = (
        keys.pairs["server2"].publicKey.decode(),
        keys.pairs["dash"].publicKey.decode(),
    )
    with running("pub", ANY_PORT, "--wait-subscribers", "1", "-m", "hi",
                 "--curve-server-key", keys.server2_secret, "--allow-key", client) as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        with running("sub", address, "--count", "1", "--curve-server-key", server,
                     "--curve-client-key", keys.dash_secret) as sub:  # fmt: skip
            assert sub.finish() == 0, sub
        assert publisher.finish() == 0, publisher
    checked(publisher)
    checked(sub)
    assert sub.out == [" hi"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--allow-key", "-" + "a" * 39], ["--allow-key=-" + "a" * 39]),
        (
            ["--curve-server-key", "-" + "a" * 39, "-m", "x"],
            ["--curve-server-key=-" + "a" * 39, "-m", "x"],
        ),
        # Only a well-formed key is taken for one: the rest is argparse's to judge.
        (["--curve-client-key", "-" + "a" * 39], ["--curve-client-key=-" + "a" * 39]),
        (["--allow-key", "--allow-any-key"], ["--allow-key", "--allow-any-key"]),
        (["--allow-key", "-" + "~" * 39], ["--allow-key", "-" + "~" * 39]),
        (["-m", "-" + "a" * 39], ["-m", "-" + "a" * 39]),
        (["--", "--allow-key", "-" + "a" * 39], ["--", "--allow-key", "-" + "a" * 39]),
    ],
)
def test_keys_as_one_argument(argv: list[str], expected: list[str]) -> None:
    from txzpub._cli._security import keysAsOneArgument

    assert keysAsOneArgument(argv) == expected


#: Command-line arguments made from the keys fixture.
Flags = Callable[[SimpleNamespace], tuple[str, ...]]

INTRUDERS: dict[str, tuple[Flags, str, str | None]] = {
    # who: (flags, the line the publisher logs, the line the intruder logs, if any)
    "unknown key": (
        lambda keys: clientFlags(keys, "mallory"),
        (
            r"refused the client at 127\.0\.0\.1 \(key fingerprint {mallory}\): "
            r"its key is not in the allow list"
        ),
        FAILED_HANDSHAKE + "the server's authenticator refused",
    ),
    "no CURVE": (lambda keys: (), FAILED_HANDSHAKE, None),
    "wrong server key": (
        lambda keys: clientFlags(keys, "alice", server="proxy"),
        FAILED_HANDSHAKE,
        FAILED_HANDSHAKE,
    ),
}


@pytest.mark.parametrize("who", list(INTRUDERS))
def test_a_refused_subscriber_receives_nothing(keys: SimpleNamespace, who: str) -> None:
    flags, refusal, told = INTRUDERS[who]
    mallory = fingerprint(keys.pairs["mallory"].publicKey)
    with running(
        "pub", ANY_PORT, "--wait-subscribers", "1", "-m", "for alice only", "-m", "sentinel",
        *serverFlags(keys, keys.alice),
    ) as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        with running("sub", address, *flags(keys)) as intruder:
            intruder.errLine(SUBSCRIBED, "the intruder's readiness")
            publisher.errLine(refusal.format(mallory=mallory), "the publisher logging the refusal")
            if told is not None:
                intruder.errLine(told, "the intruder told of its failed handshake")
            with running("sub", address, "--count", "2", *clientFlags(keys, "alice")) as alice:
                assert alice.finish() == 0, alice
            assert publisher.finish() == 0, publisher
            assert intruder.stop() == 0, intruder
    for process in (publisher, alice, intruder):
        checked(process)
    assert alice.out == [" for alice only", " sentinel"]
    assert intruder.out == [], intruder
    assert publisher.err[-1] == "txzpub pub: published 2 message(s)"


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (("--deny-ip", "127.0.0.0/8"), "its address is in the deny list"),
        (
            ("--allow-ip", "192.0.2.0/24", "--allow-ip", "10.1.2.3"),
            "its address is not in the allow",
        ),
    ],
    ids=["deny", "allow"],
)
def test_address_lists(keys: SimpleNamespace, flags: tuple[str, ...], reason: str) -> None:
    with running("pub", ANY_PORT, "--wait-subscribers", "1", *serverFlags(keys, keys.alice),
                 *flags) as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        with running("sub", address, *clientFlags(keys, "alice")) as alice:
            publisher.errLine(f"refused the client at 127.0.0.1 .*: {reason}", "the refusal")
            assert alice.stop() == 0, alice
        assert publisher.stop() == 0, publisher
    checked(publisher)
    checked(alice)
    assert alice.out == []


def test_roles_come_from_the_flags_not_pub_or_sub(keys: SimpleNamespace, tmp_path: Path) -> None:
    """A subscriber that binds is the CURVE server; a publisher that connects, its client."""
    with running(
        "sub", f"ipc://{tmp_path}/bus", "--bind", "--count", "1", "--allow-any-key",
        *serverFlags(keys),
    ) as sub:  # fmt: skip
        address = sub.errLine(SUBSCRIBED, "the subscriber's address")[1]
        publisher = run("pub", address, "--connect", "--wait-subscribers", "1", "-m", "hi",
                        *clientFlags(keys, "bob"))  # fmt: skip
        assert sub.finish() == 0, sub
    checked(sub)
    checked(publisher)
    assert sub.out == [" hi"]
    assert "admits any CURVE client's key (encryption without authentication)" in sub.err[0]


def test_max_message_size(keys: SimpleNamespace) -> None:
    big = "x" * 300
    with running("pub", ANY_PORT, "-t", "t", "--wait-subscribers", "2", "--max-message-size",
                 "100", "-m", "small", "-m", big, "-m", "sentinel") as publisher:  # fmt: skip
        address = publisher.errLine(PUBLISHER_ON, "the publisher's address")[1]
        with running("sub", address, "--max-message-size", "100") as limited:
            limited.errLine(SUBSCRIBED, "the limited subscriber's readiness")
            with running("sub", address, "--count", "3") as unlimited:
                assert unlimited.finish() == 0, unlimited
            assert publisher.finish() == 0, publisher
            # What came before the big message was delivered; the big one never is.
            limited.until(lambda process: "t small" in process.out, "the small message")
            assert limited.stop() == 0, limited
    for process in (publisher, limited, unlimited):
        checked(process)
    assert unlimited.out == ["t small", f"t {big}", "t sentinel"]
    assert f"t {big}" not in limited.out, limited


# -- proxy -------------------------------------------------------------------------------


def test_curve_proxy_end_to_end(keys: SimpleNamespace) -> None:
    with running(
        "proxy", "--xsub", ANY_PORT, "--xpub", ANY_PORT, "--stats", "0",
        "--curve-server-key", keys.proxy_secret, "--allow-key", keys.clients,
        "--max-message-size", "65536",
    ) as proxy:  # fmt: skip
        xsub, xpub = proxy.errLine(PROXY_READY, "the proxy's addresses").groups()
        with running("sub", xpub, *clientFlags(keys, "mallory", server="proxy")) as intruder:
            intruder.errLine(SUBSCRIBED, "the intruder's readiness")
            proxy.errLine(
                rf"XPUB {re.escape(xpub)}: refused the client at 127\.0\.0\.1 \(key fingerprint "
                rf"{fingerprint(keys.pairs['mallory'].publicKey)}\): its key is not in the allow",
                "the proxy logging the refusal",
            )
            with running("sub", xpub, "--count", "2", *clientFlags(keys, "bob", server="proxy")) as bob:  # fmt: skip
                bob.errLine(SUBSCRIBED, "bob's readiness")
                publisher = run("pub", xsub, "--connect", "--wait-subscribers", "1", "-t", "t",
                                "-m", "through", "-m", "sentinel",
                                *clientFlags(keys, "alice", server="proxy"))  # fmt: skip
                assert bob.finish() == 0, bob
            assert intruder.stop() == 0, intruder
        assert proxy.stop() == 0, proxy
    for process in (proxy, publisher, bob, intruder):
        checked(process)
    assert bob.out == ["t through", "t sentinel"]
    assert intruder.out == []
    proxyPrint = fingerprint(keys.pairs["proxy"].publicKey)
    assert proxy.err[0] == (
        f"txzpub proxy: CURVE server, key fingerprint {proxyPrint}; admits 2 client key(s); "
        "on every side"
    )
    assert proxy.err[-1].startswith("txzpub proxy: stopped; 2 message(s) forwarded"), proxy


def test_a_proxy_without_curve_is_not_reached_by_curve_clients(keys: SimpleNamespace) -> None:
    """The reverse mistake: CURVE on the clients only. They are told; nothing flows."""
    with running("proxy", "--xsub", ANY_PORT, "--xpub", ANY_PORT) as proxy:
        _, xpub = proxy.errLine(PROXY_READY, "the proxy's addresses").groups()
        with running("sub", xpub, *clientFlags(keys, "bob", server="proxy")) as bob:
            bob.errLine(FAILED_HANDSHAKE, "bob told of the failed handshake")
            assert bob.stop() == 0, bob
        assert proxy.stop() == 0, proxy
    checked(proxy)
    checked(bob)


CERTIFICATE_NOTE = (
    "txzpub {command}: note: {flag} {path!r} is a secret certificate; only its public one "
    "(NAME.key) is needed here, and the secret one should stay with its owner"
)


@pytest.mark.parametrize("secret", [False, True], ids=["public", "secret"])
def test_a_secret_certificate_where_a_public_key_will_do(
    keys: SimpleNamespace, secret: bool
) -> None:
    """It works (its public key is used), with a note that only the public one is needed."""
    server = keys.server_secret if secret else keys.server
    sub = run("sub", CONNECT, "--curve-client-key", keys.alice_secret,
              "--curve-server-key", server, "--timeout", "0.1")  # fmt: skip
    alice = keys.alice_secret if secret else keys.alice
    pub = run("pub", ANY_PORT, "--curve-server-key", keys.server_secret, "--allow-key", alice,
              "-m", "x")  # fmt: skip
    checked(sub, status=1)
    checked(pub)
    assert re.search(SUBSCRIBED, sub.stderr), sub
    assert "published 1 message(s)" in pub.stderr, pub
    subNotes = [line for line in sub.err if "is a secret certificate" in line]
    pubNotes = [line for line in pub.err if "is a secret certificate" in line]
    if secret:
        assert subNotes == [
            CERTIFICATE_NOTE.format(command="sub", flag="--curve-server-key", path=server)
        ]
        assert pubNotes == [CERTIFICATE_NOTE.format(command="pub", flag="--allow-key", path=alice)]
    else:
        assert subNotes == pubNotes == []


# -- bad input: one line, status 2, no key shown -------------------------------------------

CONNECT = "tcp://127.0.0.1:9"
PROXY = ("proxy", "--xsub", ANY_PORT, "--xpub", ANY_PORT)

BAD: dict[str, tuple[Flags, str]] = {
    "allow without a server key": (
        lambda k: ("pub", ANY_PORT, "--allow-key", k.alice),
        "--allow-key needs --curve-server-key PATH",
    ),
    "allow-ip on a client": (
        lambda k: ("sub", CONNECT, *clientFlags(k, "alice"), "--allow-ip", "10.0.0.1"),
        "--allow-ip is for a CURVE server, but --curve-client-key makes this side a client",
    ),
    "client without the server's key": (
        lambda k: ("sub", CONNECT, "--curve-client-key", k.alice_secret),
        "--curve-client-key needs --curve-server-key",
    ),
    "a server admitting nobody": (
        lambda k: ("pub", ANY_PORT, "--curve-server-key", k.server_secret),
        "--allow-key KEY for each client",
    ),
    "allow any and some": (
        lambda k: ("pub", ANY_PORT, *serverFlags(k, k.alice), "--allow-any-key"),
        "give it or --allow-key, not both",
    ),
    "a public certificate for the server": (
        lambda k: ("pub", ANY_PORT, "--curve-server-key", k.server, "--allow-any-key"),
        "is a public certificate; this side needs its secret one",
    ),
    "a public certificate on a sub that forgot --curve-client-key": (
        lambda k: ("sub", CONNECT, "--curve-server-key", k.server),
        "to be a client of that server, add --curve-client-key YOUR.key_secret",
    ),
    "a public certificate for the client": (
        lambda k: ("sub", CONNECT, "--curve-client-key", k.alice, "--curve-server-key", k.server),
        "is a public certificate; this side needs its secret one",
    ),
    "a missing certificate": (
        lambda k: (
            "sub",
            CONNECT,
            "--curve-client-key",
            "nowhere.key_secret",
            "--curve-server-key",
            k.server,
        ),
        "cannot read the certificate 'nowhere.key_secret': No such file or directory",
    ),
    "a malformed certificate": (
        lambda k: ("pub", ANY_PORT, "--curve-server-key", __file__, "--allow-any-key"),
        "is not a ZeroMQ CURVE certificate",
    ),
    "a secret key starting with a dash as text": (
        lambda k: (
            "sub",
            CONNECT,
            "--curve-client-key",
            k.pairs["carol"].secretKey.decode(),
            "--curve-server-key",
            k.server,
        ),
        "--curve-client-key takes the path of a secret certificate (NAME.key_secret), not a key",
    ),
    "a secret key as text": (
        lambda k: (
            "sub",
            CONNECT,
            "--curve-client-key",
            k.pairs["alice"].secretKey.decode(),
            "--curve-server-key",
            k.server,
        ),
        "--curve-client-key takes the path of a secret certificate (NAME.key_secret), not a key",
    ),
    "a key as text for the server's secret": (
        lambda k: (
            "pub",
            ANY_PORT,
            "--curve-server-key",
            k.pairs["server"].publicKey.decode(),
            "--allow-any-key",
        ),
        "To be a client of the server with that public key, add --curve-client-key",
    ),
    "a malformed server key": (
        lambda k: (
            "sub",
            CONNECT,
            "--curve-client-key",
            k.alice_secret,
            "--curve-server-key",
            "~" * 40,
        ),
        "--curve-server-key: no such file, and the key is not valid Z85",
    ),
    "a missing server certificate": (
        lambda k: (
            "sub",
            CONNECT,
            "--curve-client-key",
            k.alice_secret,
            "--curve-server-key",
            "server.kye",
        ),
        "--curve-server-key: no such file 'server.kye'",
    ),
    "a missing allowed key": (
        lambda k: ("pub", ANY_PORT, *serverFlags(k, "bob.kye")),
        "--allow-key: no such file 'bob.kye'",
    ),
    "an empty key directory": (
        lambda k: ("pub", ANY_PORT, *serverFlags(k, str(Path(__file__).parent / "programs"))),
        "has no NAME.key certificates",
    ),
    "a bad address": (
        lambda k: ("pub", ANY_PORT, *serverFlags(k, k.alice), "--deny-ip", "10.0.0.300"),
        "--deny-ip: '10.0.0.300' is not an IP address or range",
    ),
    "a bad size": (
        lambda k: ("sub", CONNECT, "--max-message-size", "0"),
        "--max-message-size: must be a whole number >= 1",
    ),
    "a size beyond libzmq": (
        lambda k: (*PROXY, "--max-message-size", str(2**63)),
        "--max-message-size: must be at most 9223372036854775807 (2**63 - 1) bytes",
    ),
    "proxy: allow without a server key": (
        lambda k: (*PROXY, "--allow-any-key"),
        "--allow-any-key needs --curve-server-key PATH",
    ),
    "proxy: no client role": (
        lambda k: (*PROXY, "--curve-client-key", k.alice_secret),
        "unrecognized arguments: --curve-client-key",
    ),
    "proxy: a server admitting nobody": (
        lambda k: (*PROXY, "--curve-server-key", k.proxy_secret),
        "or --allow-any-key to admit every CURVE client",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_security_input_is_one_line_and_status_2(keys: SimpleNamespace, case: str) -> None:
    args, message = BAD[case]
    process = run(*args(keys))
    checked(process, status=2)
    assert process.out == []
    assert len(process.err) == 1, process
    command = args(keys)[0]
    # argparse says unrecognized arguments as the top-level parser: "txzpub: error:"
    assert re.match(rf"txzpub( {command})?: error: ", process.err[0]), process
    assert message in process.err[0], process


def test_help_lists_the_flags() -> None:
    for command in ("pub", "sub"):
        text = run(command, "--help").stdout
        for flag in ("--curve-server-key KEY", "--curve-client-key PATH", "--allow-key KEY",
                     "--allow-any-key", "--allow-ip ADDR[/BITS]", "--deny-ip ADDR[/BITS]",
                     "--max-message-size BYTES", "txzpub keygen NAME"):  # fmt: skip
            assert flag in text, (command, text)
    proxy = run("proxy", "--help").stdout
    assert "--curve-server-key PATH" in proxy
    assert "--curve-client-key" not in proxy
    top = run("--help").stdout
    assert "keygen" in top


# -- in process: how log events become lines ------------------------------------------


class Connection:
    def __repr__(self) -> str:
        return "ZmqPubConnection(ZmqFactory(), [...])"


def test_log_lines() -> None:
    from twisted.logger import LogLevel

    from txzpub._cli._logging import REPEAT_SECONDS, LogPrinter, nameInLogs

    lines: list[tuple[str, str]] = []
    now = [100.0]
    printer = LogPrinter(
        "pub", lambda command, text: lines.append((command, text)), lambda: now[0]
    )
    named, unnamed, other = Connection(), Connection(), Connection()
    nameInLogs(named, "XPUB tcp://127.0.0.1:5556")
    nameInLogs(unnamed)

    def event(connection: object, level: LogLevel = LogLevel.warn) -> dict[str, object]:
        return {
            "log_format": "{connection!r}: refused the client at {address}: {reason}",
            "log_level": level,
            "log_namespace": "txzpub._authenticator",
            "connection": connection,
            "address": "127.0.0.1",
            "reason": "its key is not in the allow list",
        }

    printer(event(named, LogLevel.debug))
    printer(event(named, LogLevel.info))
    assert lines == []
    printer(event(named))
    printer(event(unnamed, LogLevel.error))
    printer(event(other))
    reason = "refused the client at 127.0.0.1: its key is not in the allow list"
    assert lines == [
        ("pub", f"XPUB tcp://127.0.0.1:5556: {reason}"),
        ("pub", reason),
        ("pub", f"ZmqPubConnection(ZmqFactory(), [...]): {reason}"),
    ]
    # The same line again: shown once per REPEAT_SECONDS, then with a count.
    del lines[:]
    for _ in range(5):
        now[0] += 1
        printer(event(unnamed))
    assert lines == []
    now[0] += REPEAT_SECONDS
    printer(event(unnamed))
    assert lines == [("pub", f"{reason} (and 5 more time(s) in the last 15 s)")]
