"""The resuming subscription over real gRPC, against an in-process
EventService that ends streams the way the gateway does: a slow-subscriber
cut-off (RESOURCE_EXHAUSTED whose ErrorInfo carries the cursor), then a cursor
it cannot serve (OUT_OF_RANGE). The sandbox cannot be made to cut a subscriber
off on demand; this server can."""

from __future__ import annotations

import asyncio
import threading
from concurrent import futures
from typing import List, Optional, Sequence, Tuple

import grpc
import pytest

from conference_gateway import AsyncClient, Backoff, Client, GapError, pb
from conference_gateway.v1 import event_service_pb2_grpc

from test_resumption import event, rich_status

TOKEN = "s3cret-token-of-the-caller"
Code = grpc.StatusCode


class Ending:
    def __init__(self, code: Code, message: str, reason: str, cursor: Optional[str]) -> None:
        self.code, self.message, self.reason, self.cursor = code, message, reason, cursor


class ScriptedEventService(event_service_pb2_grpc.EventServiceServicer):
    """Each Subscribe plays the next (events, ending) of the script."""

    def __init__(self, script: Sequence[Tuple[Sequence[pb.Event], Ending]]) -> None:
        self.script = list(script)
        self.requests: List[pb.SubscribeRequest] = []
        self.authorization: List[Optional[str]] = []
        self.lock = threading.Lock()

    def Subscribe(self, request, context):  # noqa: N802 - the service's name
        with self.lock:
            self.requests.append(request)
            self.authorization.append(dict(context.invocation_metadata()).get("authorization"))
            if not self.script:
                context.abort(Code.FAILED_PRECONDITION, "script exhausted")
            events, ending = self.script.pop(0)
        for e in events:
            yield e
        context.set_trailing_metadata(rich_status(ending.code, ending.message, ending.reason, ending.cursor))
        context.abort(ending.code, ending.message)


@pytest.fixture
def serve():
    servers: List[grpc.Server] = []

    def start(script) -> Tuple[str, ScriptedEventService]:
        service = ScriptedEventService(script)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        event_service_pb2_grpc.add_EventServiceServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}", service

    yield start
    for server in servers:
        server.stop(grace=None)


def cut_off_then_gone():
    return [
        (
            [event(1), event(2)],
            Ending(
                Code.RESOURCE_EXHAUSTED,
                'subscriber too slow: more than 256 events were waiting for it; resume with resume_after="ab.2-0"',
                "SUBSCRIBER_TOO_SLOW",
                "ab.2-0",
            ),
        ),
        ([event(3)], Ending(Code.UNAVAILABLE, 'the gateway is shutting down; resume with resume_after="ab.3-0"', "SHUTTING_DOWN", "ab.3-0")),
        ([], Ending(Code.OUT_OF_RANGE, "cursor from another history", "CURSOR_OTHER_HISTORY", None)),
    ]


FAST = Backoff(initial=0.01, maximum=0.05)


def test_cut_off_and_shutdown_resume_then_the_gap_is_raised(serve):
    target, service = serve(cut_off_then_gone())
    with Client(target, TOKEN) as client:
        subscription = client.subscribe(["conference.*"], backoff=FAST)
        received = []
        with pytest.raises(GapError) as gap:
            for e in subscription:
                received.append(e.id)
    assert received == ["ev1", "ev2", "ev3"]
    assert [r.resume_after for r in service.requests] == ["", "ab.2-0", "ab.3-0"]
    assert service.authorization == [f"Bearer {TOKEN}"] * 3
    assert (gap.value.cursor, gap.value.reason) == ("ab.3-0", "CURSOR_OTHER_HISTORY")
    assert gap.value.status.code() == Code.OUT_OF_RANGE
    assert subscription.reconnects == 2


def test_the_asyncio_subscription_resumes_the_same_way(serve):
    target, service = serve(cut_off_then_gone())

    async def run() -> Tuple[List[str], GapError]:
        received: List[str] = []
        async with AsyncClient(target, TOKEN) as client:
            try:
                async for e in client.subscribe(["conference.*"], backoff=FAST):
                    received.append(e.id)
            except GapError as gap:
                return received, gap
        raise AssertionError("no gap raised")

    received, gap = asyncio.run(run())
    assert received == ["ev1", "ev2", "ev3"]
    assert [r.resume_after for r in service.requests] == ["", "ab.2-0", "ab.3-0"]
    assert service.authorization == [f"Bearer {TOKEN}"] * 3
    assert (gap.cursor, gap.reason) == ("ab.3-0", "CURSOR_OTHER_HISTORY")


def test_the_asyncio_subscription_yields_the_gap_when_asked(serve):
    script = cut_off_then_gone() + [([event(1, "cd")], Ending(Code.UNAUTHENTICATED, "token revoked", "", None))]
    target, service = serve(script)

    async def run() -> list:
        items: list = []
        async with AsyncClient(target, TOKEN) as client:
            with pytest.raises(grpc.RpcError) as refused:
                async for item in client.subscribe(on_gap="yield", backoff=FAST):
                    items.append(item)
            assert refused.value.code() == Code.UNAUTHENTICATED
        return items

    items = asyncio.run(run())
    assert [getattr(i, "id", None) or type(i).__name__ for i in items] == ["ev1", "ev2", "ev3", "Gap", "ev1"]
    assert items[3].cursor == "ab.3-0"
    assert [r.resume_after for r in service.requests] == ["", "ab.2-0", "ab.3-0", ""]
