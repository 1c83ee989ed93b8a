"""The resuming subscription against a fake EventService stub: every way a
stream can end, and what the subscription sends next."""

from __future__ import annotations

import threading
from typing import List, Optional, Sequence, Tuple

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from conference_gateway import Backoff, Gap, GapError, Subscription, pb, status_error_info

Code = grpc.StatusCode


def event(n: int, epoch: str = "ab") -> pb.Event:
    return pb.Event(id=f"ev{n}", event_type="conference.participant.joined", cursor=f"{epoch}.{n}-0")


def rich_status(code: Code, message: str, reason: str, cursor: Optional[str]) -> Tuple[Tuple[str, bytes], ...]:
    """The trailing metadata of a gateway status: a google.rpc.Status with an
    ErrorInfo detail, as the gateway sends it."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain="events.conference-gateway")
    if cursor:
        info.metadata["cursor"] = cursor
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: Code, details: str = "", trailing: Sequence = ()) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code, self._details, self._trailing = code, details, tuple(trailing)

    def code(self) -> Code:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self):
        return self._trailing


class FakeCall:
    """One server-streaming call: some events, then an error (or a clean end)."""

    def __init__(self, events: Sequence[pb.Event], error: Optional[FakeRpcError]) -> None:
        self._events = list(events)
        self._error = error
        self.cancelled = False

    def initial_metadata(self):
        return ()

    def done(self) -> bool:
        # A call refused before any event ends without headers.
        return not self._events and self._error is not None

    def cancel(self) -> bool:
        self.cancelled = True
        return True

    def __iter__(self):
        yield from self._events
        if self._error is not None:
            raise self._error


class FakeStub:
    """Plays one scripted call per Subscribe, recording the requests."""

    def __init__(self, *script: Tuple[Sequence[pb.Event], Optional[FakeRpcError]]) -> None:
        self.script = list(script)
        self.requests: List[pb.SubscribeRequest] = []

    def Subscribe(self, request, metadata=None):  # noqa: N802 - the generated stub's name
        self.requests.append(request)
        if not self.script:
            raise AssertionError(f"unexpected Subscribe #{len(self.requests)}: {request}")
        return FakeCall(*self.script.pop(0))

    @property
    def resume_afters(self) -> List[str]:
        return [r.resume_after for r in self.requests]


def subscription(stub: FakeStub, *, sleeps: Optional[list] = None, **kwargs) -> Subscription:
    request = kwargs.pop("request", pb.SubscribeRequest(event_types=["conference.*"], conference_id="c1"))
    sleeps = sleeps if sleeps is not None else []
    kwargs.setdefault("rand", lambda: 0.0)
    return Subscription(stub, request, sleep=sleeps.append, **kwargs)


def take(sub: Subscription, n: int) -> list:
    return [next(sub) for _ in range(n)]


def test_a_slow_subscriber_cut_off_resumes_from_its_last_event():
    cut_off = FakeRpcError(
        Code.RESOURCE_EXHAUSTED,
        'subscriber too slow: more than 256 events were waiting for it; resume with resume_after="ab.2-0"',
        rich_status(Code.RESOURCE_EXHAUSTED, "too slow", "SUBSCRIBER_TOO_SLOW", "ab.2-0"),
    )
    stub = FakeStub(([event(1), event(2)], cut_off), ([event(3)], None))
    sub = subscription(stub)
    assert [e.id for e in take(sub, 3)] == ["ev1", "ev2", "ev3"]
    assert stub.resume_afters == ["", "ab.2-0"]
    # The filters go along unchanged.
    assert all(list(r.event_types) == ["conference.*"] and r.conference_id == "c1" for r in stub.requests)
    assert sub.cursor == "ab.3-0"
    assert sub.reconnects == 1


def test_the_last_delivered_cursor_wins_over_the_status():
    # The gateway's cursor is its last *sent* event; the client's own last
    # delivered one is what guarantees no gap.
    cut_off = FakeRpcError(Code.RESOURCE_EXHAUSTED, "", rich_status(Code.RESOURCE_EXHAUSTED, "", "SUBSCRIBER_TOO_SLOW", "ab.9-0"))
    stub = FakeStub(([event(1)], cut_off), ([event(2)], None))
    sub = subscription(stub)
    take(sub, 2)
    assert stub.resume_afters == ["", "ab.1-0"]


def test_the_status_cursor_is_used_when_nothing_was_delivered_yet():
    stopped = FakeRpcError(
        Code.UNAVAILABLE,
        'the gateway is shutting down; resume with resume_after="ab.7-0"',
        rich_status(Code.UNAVAILABLE, "", "SHUTTING_DOWN", "ab.7-0"),
    )
    stub = FakeStub(([], stopped), ([event(8)], None))
    assert next(subscription(stub)).id == "ev8"
    assert stub.resume_afters == ["", "ab.7-0"]


def test_the_message_hint_serves_when_there_is_no_error_info():
    stopped = FakeRpcError(Code.UNAVAILABLE, 'the event stream stopped; resume with resume_after="ab.4-0"')
    stub = FakeStub(([], stopped), ([event(5)], None))
    next(subscription(stub))
    assert stub.resume_afters == ["", "ab.4-0"]


def test_a_lost_connection_resumes_after_the_given_cursor():
    lost = FakeRpcError(Code.UNAVAILABLE, "Socket closed")
    stub = FakeStub(([], lost), ([], lost), ([event(6)], None))
    sub = subscription(stub, request=pb.SubscribeRequest(resume_after="ab.5-0"))
    assert next(sub).id == "ev6"
    assert stub.resume_afters == ["ab.5-0", "ab.5-0", "ab.5-0"]


def test_backoff_grows_is_capped_and_restarts_after_progress():
    lost = FakeRpcError(Code.UNAVAILABLE, "connection refused")
    stub = FakeStub(*([([], lost)] * 5), ([event(1)], lost), ([], lost), ([event(2)], None))
    sleeps: list = []
    sub = subscription(stub, sleeps=sleeps, backoff=Backoff(initial=1, maximum=5, multiplier=2, jitter=0.5))
    take(sub, 2)
    # rand() is 0: every delay is its ceiling. 1, 2, 4, 5 (capped), 5; then an
    # event arrived, so the next failure waits 1 again.
    assert sleeps == [1, 2, 4, 5, 5, 1, 2]


def test_backoff_is_jittered_within_bounds():
    backoff = Backoff(initial=0.5, maximum=8, multiplier=2, jitter=0.5)
    assert backoff.delay(1, lambda: 0.0) == 0.5
    assert backoff.delay(1, lambda: 1.0) == 0.25
    assert backoff.delay(3, lambda: 0.5) == pytest.approx(2 * 0.75)
    assert backoff.delay(10, lambda: 0.0) == 8
    assert backoff.delay(10_000, lambda: 1.0) == 4
    delays = {backoff.delay(2) for _ in range(50)}
    assert len(delays) > 1 and all(0.5 <= d <= 1 for d in delays)


def test_out_of_range_raises_a_gap_with_the_last_cursor():
    out_of_range = FakeRpcError(
        Code.OUT_OF_RANGE,
        "cursor from another history",
        rich_status(Code.OUT_OF_RANGE, "", "CURSOR_OTHER_HISTORY", None),
    )
    stub = FakeStub(([event(1)], FakeRpcError(Code.UNAVAILABLE, "Socket closed")), ([], out_of_range))
    sub = subscription(stub)
    assert next(sub).id == "ev1"
    with pytest.raises(GapError) as gap:
        next(sub)
    assert gap.value.cursor == "ab.1-0"
    assert gap.value.reason == "CURSOR_OTHER_HISTORY"
    assert gap.value.status is out_of_range
    assert len(stub.requests) == 2  # no silent live re-subscription
    with pytest.raises(StopIteration):
        next(sub)


def test_an_unservable_starting_cursor_is_a_gap_too():
    stub = FakeStub(([], FakeRpcError(Code.OUT_OF_RANGE, "expired", rich_status(Code.OUT_OF_RANGE, "", "CURSOR_EXPIRED", None))))
    with pytest.raises(GapError) as gap:
        next(subscription(stub, request=pb.SubscribeRequest(resume_after="ab.1-0")))
    assert (gap.value.cursor, gap.value.reason) == ("ab.1-0", "CURSOR_EXPIRED")


def test_on_gap_yield_marks_the_gap_then_goes_on_live():
    out_of_range = FakeRpcError(Code.OUT_OF_RANGE, "gone", rich_status(Code.OUT_OF_RANGE, "", "CURSOR_OTHER_HISTORY", None))
    lost = FakeRpcError(Code.UNAVAILABLE, "Socket closed")
    # After the gap the first live attempt fails before it is registered: the
    # Gap waits for a live stream.
    stub = FakeStub(([event(1)], lost), ([], out_of_range), ([], lost), ([event(1, "cd")], None))
    sub = subscription(stub, on_gap="yield")
    items = take(sub, 3)
    assert items[0].id == "ev1"
    assert items[1] == Gap(cursor="ab.1-0", reason="CURSOR_OTHER_HISTORY", message="gone")
    assert items[2].cursor == "cd.1-0"
    assert stub.resume_afters == ["", "ab.1-0", "", ""]


@pytest.mark.parametrize("code", [Code.UNAUTHENTICATED, Code.INVALID_ARGUMENT, Code.PERMISSION_DENIED, Code.INTERNAL])
def test_other_errors_are_raised_as_they_are(code):
    refused = FakeRpcError(code, "no")
    stub = FakeStub(([], refused))
    with pytest.raises(grpc.RpcError) as raised:
        next(subscription(stub))
    assert raised.value is refused
    assert len(stub.requests) == 1


def test_max_attempts_bounds_reconnects_without_progress():
    lost = FakeRpcError(Code.UNAVAILABLE, "connection refused")
    stub = FakeStub(([], lost), ([], lost), ([], lost))
    with pytest.raises(grpc.RpcError) as raised:
        next(subscription(stub, max_attempts=2))
    assert raised.value.code() == Code.UNAVAILABLE
    assert len(stub.requests) == 3


def test_close_from_another_thread_ends_iteration_during_backoff():
    lost = FakeRpcError(Code.UNAVAILABLE, "connection refused")
    stub = FakeStub(([event(1)], lost))
    sub = Subscription(stub, pb.SubscribeRequest(), backoff=Backoff(initial=60, maximum=60))
    assert next(sub).id == "ev1"
    threading.Timer(0.1, sub.close).start()
    with pytest.raises(StopIteration):
        next(sub)  # would wait 30-60 s without close()


def test_leaving_a_with_block_cancels_the_call():
    calls: List[FakeCall] = []

    class Stub(FakeStub):
        def Subscribe(self, request, metadata=None):  # noqa: N802
            calls.append(super().Subscribe(request, metadata))
            return calls[-1]

    with subscription(Stub(([event(1), event(2)], None))) as sub:
        assert next(sub).id == "ev1"
    assert calls[0].cancelled


def test_status_error_info_reads_the_gateways_details():
    trailing = rich_status(Code.RESOURCE_EXHAUSTED, "", "SUBSCRIBER_TOO_SLOW", "ab.2-0")
    assert status_error_info("", trailing) == ("SUBSCRIBER_TOO_SLOW", "ab.2-0")
    assert status_error_info('x; resume with resume_after="ab.3-0"', ()) == ("", "ab.3-0")
    assert status_error_info("no hint", [("grpc-status-details-bin", b"\xff\xff")]) == ("", "")
