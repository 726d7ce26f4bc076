"""
PUSH/PULL and REQ/REP written the txZMQ way, running on txzpub.

This is code as txZMQ users wrote it: a ZmqPullConnection whose ``onPull`` is
assigned, a ZmqREPConnection subclass overriding ``gotMessage(messageId,
*parts)`` and answering with ``self.reply(messageId, ...)``, a
ZmqREQConnection whose ``sendMsg()`` Deferred fires with the reply's frames,
and the global reactor. Coming from txZMQ, only the import line changes:
``from txzmq import ...`` becomes ``from txzpub import ...``.

The additions marked "Addition" make it a whole program that ends: the REQ/REP
endpoint ($TXZPUB_EXAMPLE_ENDPOINT, default tcp://127.0.0.1:5555), stopping
once every task is pulled and every request answered, and at the latest after
argv[1] seconds (default 10). Run it alone:

    python examples/legacy/push_pull_req_rep.py
"""

import os
import sys

from twisted.internet import reactor

from txzpub import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
)

# Addition: where the REQ/REP pair meets, and how many seconds to run at most.
ENDPOINT = os.environ.get("TXZPUB_EXAMPLE_ENDPOINT", "tcp://127.0.0.1:5555")
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
ROUNDS = 3

zf = ZmqFactory()
zf.registerForShutdown()


# REQ/REP: an echo service, txZMQ style.
class EchoService(ZmqREPConnection):
    def gotMessage(self, messageId, *messageParts):
        self.reply(messageId, b"echo", *messageParts)


rep = EchoService(zf, ZmqEndpoint(ZmqEndpointType.bind, ENDPOINT))
req = ZmqREQConnection(zf, ZmqEndpoint(ZmqEndpointType.connect, ENDPOINT))

# PUSH/PULL: a pipeline over inproc, with the onPull hook assigned.
pull = ZmqPullConnection(zf, ZmqEndpoint(ZmqEndpointType.bind, "inproc://legacy-pipeline"))
push = ZmqPushConnection(zf, ZmqEndpoint(ZmqEndpointType.connect, "inproc://legacy-pipeline"))

pulled = []
replies = []


def stopWhenDone():  # Addition: stop once everything arrived
    if len(pulled) == ROUNDS and len(replies) == ROUNDS:
        reactor.stop()


def doPull(message):
    print(f"pulled {message!r}")
    pulled.append(message)
    stopWhenDone()


pull.onPull = doPull


def gotReply(reply):
    print(f"reply {reply!r}")
    replies.append(reply)
    stopWhenDone()


def produce(n):
    push.push([b"task", str(n).encode()])
    req.sendMsg(b"hello", str(n).encode()).addCallback(gotReply)
    if n < ROUNDS:
        reactor.callLater(0.1, produce, n + 1)


reactor.callWhenRunning(produce, 1)
reactor.callLater(SECONDS, reactor.stop)  # Addition: stop after SECONDS at the latest
reactor.run()
