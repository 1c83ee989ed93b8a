"""The client against the real gateway: `conference-gateway sandbox` (the
gateway and a simulated Telnyx on loopback), started by the tests."""

from __future__ import annotations

import asyncio
import logging
import signal

import grpc
import pytest

from conference_gateway import AsyncClient, Backoff, Client, Gap, GapError, message, pb

from conftest import Sandbox, gateway_binary

CALLER = "+15559870000"
CALLEE = "+15551230001"
FAST = Backoff(initial=0.05, maximum=0.5)


def payload(event, name: str) -> str:
    """A field of the event's typed payload ("" when it has none)."""
    which = event.WhichOneof("payload")
    return getattr(getattr(event, which), name, "") if which else ""


def is_event(kind: str, **fields: str):
    def matches(item) -> bool:
        return (
            isinstance(item, pb.Event)
            and item.event_type == kind
            and all(payload(item, name) == value for name, value in fields.items())
        )

    return matches


def dial(client: Client, connection_id: str) -> str:
    """Dials out (`from` spelled `from_`) and returns the call's id."""
    request = message(pb.DialRequest, connection_id=connection_id, from_=CALLER, to=[CALLEE])
    response = client.calls.Dial(request, timeout=10)
    assert response.call.call_control_id
    return response.call.call_control_id


def test_a_conference_run_reaches_the_subscription(sandbox, collect):
    with Client(sandbox.target, sandbox.token) as client:
        conference_events = collect(client.subscribe(["conference.*"]))
        answers = collect(client.subscribe(["call.answered"]))

        host = dial(client, sandbox.connection_id)
        guest = dial(client, sandbox.connection_id)
        answers.wait_for(is_event("call.answered", call_control_id=host))
        answers.wait_for(is_event("call.answered", call_control_id=guest))

        created = client.conferences.CreateConference(
            pb.CreateConferenceRequest(call_control_id=host, name="standup"), timeout=10
        )
        conference_id = created.conference.id
        assert conference_id
        client.conferences.JoinConference(
            pb.JoinConferenceRequest(conference_id=conference_id, call_control_id=guest), timeout=10
        )

        got = conference_events.wait_for(is_event("conference.created", conference_id=conference_id))
        assert got.cursor
        for leg in (host, guest):
            joined = conference_events.wait_for(
                is_event("conference.participant.joined", conference_id=conference_id, call_control_id=leg)
            )
            assert joined.WhichOneof("payload") == "conference_participant_joined"
        # Nothing but conference events passed the filter, each once, in order.
        seen = list(conference_events.items)
        assert all(e.event_type.startswith("conference.") for e in seen)
        assert len({e.id for e in seen}) == len(seen)
        assert conference_events.subscription.cursor == seen[-1].cursor

        # Resuming from the first event replays exactly what followed it.
        replay = collect(client.subscribe(["conference.*"], resume_after=seen[0].cursor))
        replay.wait_for(lambda e: e.id == seen[-1].id)
        assert [e.id for e in replay.items[: len(seen) - 1]] == [e.id for e in seen[1:]]


def test_every_call_carries_the_token(sandbox):
    with Client(sandbox.target, "not-a-token-of-this-gateway") as stranger:
        with pytest.raises(grpc.RpcError) as refused:
            stranger.conferences.ListConferences(pb.ListConferencesRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Refused subscriptions are raised at once, not retried.
        subscription = stranger.subscribe(["conference.*"], backoff=FAST)
        with pytest.raises(grpc.RpcError) as refused:
            next(subscription)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert subscription.reconnects == 0
    with Client(sandbox.target, sandbox.token) as client:
        client.conferences.ListConferences(pb.ListConferencesRequest(), timeout=10)


def test_a_bad_filter_is_raised_not_retried(sandbox):
    with Client(sandbox.target, sandbox.token) as client:
        with pytest.raises(grpc.RpcError) as refused:
            next(client.subscribe(["conference.*.joined"], backoff=FAST))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_unservable_cursor_is_a_gap_at_once(sandbox):
    with Client(sandbox.target, sandbox.token) as client:
        with pytest.raises(GapError) as gap:
            next(client.subscribe(resume_after="not-a-cursor", backoff=FAST))
        assert gap.value.cursor == "not-a-cursor"
        assert gap.value.reason == "CURSOR_MALFORMED"


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_a_restarted_gateway_is_an_explicit_gap(restartable_sandbox, collect, caplog, how):
    caplog.set_level(logging.INFO, logger="conference_gateway")
    box = restartable_sandbox
    with Client(box.target, box.token) as client:
        events = collect(client.subscribe(["call.*"], backoff=FAST))
        call = dial(client, box.connection_id)
        answered = events.wait_for(is_event("call.answered", call_control_id=call))

        # Killed: the connection drops (UNAVAILABLE, no cursor in the status).
        # Stopped: the gateway drains and ends the stream with UNAVAILABLE and
        # the cursor. Either way the client reconnects with its last cursor;
        # the new in-memory gateway has another history: OUT_OF_RANGE.
        box.restart(how)
        error = events.wait_finished(timeout=30)
        assert isinstance(error, GapError), error
        assert error.cursor == answered.cursor == events.items[-1].cursor
        assert error.reason == "CURSOR_OTHER_HISTORY"
        assert events.subscription.reconnects >= 1
        # Never continued silently past the gap.
        assert events.items[-1] is answered
        # How the first stream ended, as the gateway said it.
        ended = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event stream ended")]
        assert ended, caplog.text
        if how == signal.SIGTERM:
            assert "UNAVAILABLE SHUTTING_DOWN" in ended[0], ended
        else:
            assert ended[0].startswith("event stream ended (UNAVAILABLE:"), ended


def test_after_a_gap_the_stream_goes_on_live_when_asked(restartable_sandbox, collect):
    box = restartable_sandbox
    with Client(box.target, box.token) as client:
        events = collect(client.subscribe(["call.answered"], on_gap="yield", backoff=FAST))
        before = dial(client, box.connection_id)
        answered = events.wait_for(is_event("call.answered", call_control_id=before))

        box.restart(signal.SIGTERM)
        gap = events.wait_for(lambda item: isinstance(item, Gap), timeout=30)
        assert gap.cursor == answered.cursor
        assert gap.reason == "CURSOR_OTHER_HISTORY"

        # The Gap is yielded once the live stream is registered: what happens
        # after it (reconciling, new calls) is delivered.
        after = dial(client, box.connection_id)
        events.wait_for(is_event("call.answered", call_control_id=after))
        assert events.items.index(gap) < len(events.items) - 1
        assert events.error is None


def test_the_asyncio_client(sandbox):
    async def run() -> None:
        async with AsyncClient(sandbox.target, sandbox.token) as client:
            subscription = client.subscribe(["call.answered"], backoff=FAST)
            next_event = asyncio.ensure_future(subscription.__anext__())
            await asyncio.wait_for(subscription.wait_live(), 10)
            request = message(pb.DialRequest, connection_id=sandbox.connection_id, from_=CALLER, to=[CALLEE])
            call = (await client.calls.Dial(request, timeout=10)).call.call_control_id
            while True:
                event = await asyncio.wait_for(next_event, 10)
                if payload(event, "call_control_id") == call:
                    break
                next_event = asyncio.ensure_future(subscription.__anext__())
            assert subscription.cursor == event.cursor
            subscription.close()

    asyncio.run(run())


def test_a_slow_subscriber_cut_off_by_the_gateway_resumes_without_gap_or_repeat(collect, caplog):
    caplog.set_level(logging.INFO, logger="conference_gateway")
    # A queue of 4 events per subscriber, and a client that buffers little:
    # a subscriber that stops reading during a burst is cut off.
    box = Sandbox(gateway_binary(), settings={"GATEWAY_EVENT_SUBSCRIBER_QUEUE": "4"}).start()
    try:
        small_window = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]
        with Client(box.target, box.token) as reader, Client(box.target, box.token, options=small_window) as client:
            reference = collect(reader.subscribe(["call.*"]))
            slow = client.subscribe(["call.*"], backoff=FAST)
            first_call = dial(client, box.connection_id)
            first = next(slow)
            assert payload(first, "call_control_id") == first_call

            calls = [dial(client, box.connection_id) for _ in range(60)]  # nobody reads `slow`
            last = reference.wait_for(is_event("call.answered", call_control_id=calls[-1]))
            received = [first]
            while received[-1].id != last.id:
                received.append(next(slow))
            slow.close()

            assert slow.reconnects >= 1
            assert any("RESOURCE_EXHAUSTED SUBSCRIBER_TOO_SLOW" in r.getMessage() for r in caplog.records), caplog.text
            # Every event once, in the gateway's order, as a subscriber that
            # kept up saw them (from `first` on: `slow` opened after the first Dial).
            seen = [e.id for e in reference.items]
            start = seen.index(first.id)
            assert [e.id for e in received] == seen[start : start + len(received)]
            assert len(received) >= 2 * len(calls)
    finally:
        box.close()
