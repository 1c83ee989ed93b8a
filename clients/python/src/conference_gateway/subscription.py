"""`EventService.Subscribe` as a stream that resumes by itself.

The gateway ends every event stream with a status that says what to do next
(see `proto/conference_gateway/v1/event_service.proto` and the README's
"Delivery guarantees"):

- UNAVAILABLE (the gateway shuts down, the connection is lost, the history
  store is unreachable) and RESOURCE_EXHAUSTED (this subscriber read too
  slowly and was cut off): subscribe again with `resume_after` set to the last
  event's cursor; the gateway replays what came after it, with no gap and no
  repeat. The subscriptions here do that, after a capped, jittered backoff.
- OUT_OF_RANGE: the cursor can no longer be served (older than the gateway's
  history, from before a restart of an in-memory gateway). Events may have
  been missed; only the caller can reconcile (through the REST-backed RPCs).
  The subscriptions here never continue silently: they raise `GapError`, or,
  with `on_gap="yield"`, yield a `Gap` once the live stream that follows it is
  registered, so that reconciling after seeing the `Gap` misses nothing.
- Anything else (UNAUTHENTICATED, INVALID_ARGUMENT, ...) is raised as the
  `grpc.RpcError` it is.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    FrozenSet,
    Generic,
    Iterable,
    Iterator,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

import grpc
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from .v1 import event_service_pb2, events_pb2

if TYPE_CHECKING:
    from .v1.event_service_pb2_grpc import EventServiceStub

__all__ = [
    "Backoff",
    "Gap",
    "GapError",
    "Subscription",
    "AsyncSubscription",
    "RETRY_CODES",
]

log = logging.getLogger("conference_gateway")

Event = events_pb2.Event

#: Statuses after which a subscription reconnects with its last cursor.
RETRY_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})

#: The ErrorInfo domain of the gateway's event-stream statuses.
EVENTS_ERROR_DOMAIN = "events.conference-gateway"

_RESUME_HINT = re.compile(r'resume_after="([^"]+)"')


@dataclass(frozen=True)
class Backoff:
    """How long to wait before reconnecting: exponential from `initial`,
    capped at `maximum`, each delay shortened by a random share of up to
    `jitter` so that many subscribers cut off together do not return together.
    The count restarts once an event is received."""

    initial: float = 0.25
    maximum: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before reconnect number `attempt` (1 for the first)."""
        exponent = max(attempt - 1, 0)
        # Avoid float overflow on very long outages: the cap is reached long before.
        ceiling = self.maximum if exponent > 64 else min(self.maximum, self.initial * self.multiplier**exponent)
        return ceiling * (1.0 - self.jitter * rand())


@dataclass(frozen=True)
class Gap:
    """Events may have been missed between `cursor` and what follows.

    `cursor` is the cursor the gateway could not resume from (the last event
    delivered, or the `resume_after` given), `reason` the gateway's ErrorInfo
    reason (`CURSOR_OTHER_HISTORY` after a restart, `CURSOR_EXPIRED`, ...).
    Reconcile with the REST-backed RPCs (ListConferences, ListParticipants,
    ListQueueCalls, ...); the events after the `Gap` are live."""

    cursor: str
    reason: str
    message: str


class GapError(Exception):
    """The gateway cannot resume from `cursor` (OUT_OF_RANGE): events may have
    been missed. Reconcile, then subscribe again without `resume_after`."""

    def __init__(self, gap: Gap, status: Optional[grpc.RpcError] = None) -> None:
        super().__init__(f"cannot resume after {gap.cursor!r} ({gap.reason or 'OUT_OF_RANGE'}): {gap.message}")
        self.gap = gap
        self.status = status

    @property
    def cursor(self) -> str:
        return self.gap.cursor

    @property
    def reason(self) -> str:
        return self.gap.reason


def status_error_info(details: Optional[str], trailing_metadata: Optional[Iterable[Tuple[str, Any]]]) -> Tuple[str, str]:
    """The (reason, cursor) a gateway status carries: from its
    `google.rpc.ErrorInfo` detail, else the cursor from the message's
    `resume_after="..."` hint. Empty strings when absent."""
    reason = ""
    for key, value in trailing_metadata or ():
        if key != "grpc-status-details-bin":
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except Exception:  # a malformed detail is no reason to fail over
            continue
        for detail in status.details:
            if not detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                continue
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain and info.domain != EVENTS_ERROR_DOMAIN:
                continue
            reason = info.reason
            if info.metadata.get("cursor"):
                return reason, info.metadata["cursor"]
    match = _RESUME_HINT.search(details or "")
    return reason, match.group(1) if match else ""


@dataclass
class _Retry:
    delay: float


@dataclass
class _Fail:
    pass


@dataclass
class _Resumption:
    """What both subscriptions share: the request to send next, and what to do
    when a stream ends."""

    template: event_service_pb2.SubscribeRequest
    cursor: str
    backoff: Backoff
    max_attempts: Optional[int]
    retry_codes: FrozenSet[grpc.StatusCode] = RETRY_CODES
    rand: Callable[[], float] = random.random
    failures: int = 0
    reconnects: int = 0
    pending_gap: Optional[Gap] = None
    _started: bool = field(default=False, repr=False)

    def request(self) -> event_service_pb2.SubscribeRequest:
        request = event_service_pb2.SubscribeRequest()
        request.CopyFrom(self.template)
        request.resume_after = self.cursor
        if self._started:
            self.reconnects += 1
        self._started = True
        return request

    def delivered(self, event: Any) -> None:
        if event.cursor:
            self.cursor = event.cursor
        self.failures = 0

    def ended(self, code: grpc.StatusCode, details: Optional[str], trailing: Any) -> Union[_Retry, _Fail, Gap]:
        """Decides what follows a stream's end with `code`."""
        reason, status_cursor = status_error_info(details, trailing)
        if code == grpc.StatusCode.OUT_OF_RANGE:
            gap = Gap(cursor=self.cursor, reason=reason, message=details or "")
            # Whatever follows is live: there is no cursor to resume from.
            self.cursor = ""
            self.failures = 0
            return gap
        if code in self.retry_codes or code == grpc.StatusCode.OK:
            # Our own last delivered cursor is always right; the status's is
            # the gateway's last *sent* one, only taken when we have none.
            if not self.cursor and status_cursor:
                self.cursor = status_cursor
            self.failures += 1
            if self.max_attempts is not None and self.failures > self.max_attempts:
                return _Fail()
            delay = self.backoff.delay(self.failures, self.rand)
            log.info(
                "event stream ended (%s%s: %s); resuming after %r in %.2fs",
                code.name,
                f" {reason}" if reason else "",
                details,
                self.cursor or "(live)",
                delay,
            )
            return _Retry(delay)
        return _Fail()


E = TypeVar("E")


class Subscription(Generic[E]):
    """An iterator of events (and, with `on_gap="yield"`, `Gap`s) that
    reconnects by itself. Use it in a `with` block, or call `close()` (from
    any thread) to stop it; iteration then ends."""

    def __init__(
        self,
        stub: "EventServiceStub",
        request: event_service_pb2.SubscribeRequest,
        *,
        on_gap: str = "raise",
        backoff: Optional[Backoff] = None,
        max_attempts: Optional[int] = None,
        metadata: Optional[Any] = None,
        sleep: Optional[Callable[[float], None]] = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if on_gap not in ("raise", "yield"):
            raise ValueError(f"on_gap must be 'raise' or 'yield', not {on_gap!r}")
        self._stub = stub
        self._on_gap = on_gap
        self._metadata = metadata
        self._state = _Resumption(
            template=_without_cursor(request),
            cursor=request.resume_after,
            backoff=backoff or Backoff(),
            max_attempts=max_attempts,
            rand=rand,
        )
        self._closed = threading.Event()
        self._live = threading.Event()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._call: Any = None
        self._iterator: Iterator[E] = self._run()

    @property
    def cursor(self) -> str:
        """The cursor of the last event delivered (or the `resume_after`
        given): where a new subscription would pick up."""
        return self._state.cursor

    @property
    def reconnects(self) -> int:
        """How many times the stream was opened again."""
        return self._state.reconnects

    def wait_live(self, timeout: Optional[float] = None) -> bool:
        """Waits until the gateway has registered the current stream (events
        accepted from then on will be delivered). Iteration opens the stream,
        so call this from another thread than the one iterating."""
        return self._live.wait(timeout)

    def close(self) -> None:
        """Stops the subscription; iteration ends (without an error)."""
        self._closed.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()

    def __iter__(self) -> "Subscription[E]":
        return self

    def __next__(self) -> E:
        return next(self._iterator)

    def __enter__(self) -> "Subscription[E]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        try:
            self._iterator.close()  # type: ignore[attr-defined]
        except ValueError:  # still running in another thread: close() ends it
            pass

    def _open(self) -> Any:
        with self._lock:
            if self._closed.is_set():
                return None
            self._call = self._stub.Subscribe(self._state.request(), metadata=self._metadata)
            return self._call

    def _run(self) -> Iterator[Any]:
        state = self._state
        while not self._closed.is_set():
            call = self._open()
            if call is None:
                return
            error: Optional[grpc.RpcError] = None
            try:
                call.initial_metadata()  # the gateway answers once the stream is registered
                if not call.done():
                    self._live.set()
                    if state.pending_gap is not None:
                        gap, state.pending_gap = state.pending_gap, None
                        yield gap
                for event in call:
                    state.delivered(event)
                    yield event
                code, details, trailing = grpc.StatusCode.OK, "", ()
            except grpc.RpcError as rpc_error:
                if self._closed.is_set():
                    return
                error = rpc_error
                code, details, trailing = _status_of(rpc_error)
            finally:
                self._live.clear()
                with self._lock:
                    self._call = None
                call.cancel()
            decision = state.ended(code, details, trailing)
            if isinstance(decision, Gap):
                if self._on_gap == "raise":
                    raise GapError(decision, error)
                state.pending_gap = decision
                continue
            if isinstance(decision, _Fail):
                if error is None:
                    return
                raise error
            if self._sleep is not None:
                self._sleep(decision.delay)
            elif self._closed.wait(decision.delay):
                return


class AsyncSubscription(Generic[E]):
    """The asyncio counterpart of `Subscription`: `async for event in sub`."""

    def __init__(
        self,
        stub: Any,
        request: event_service_pb2.SubscribeRequest,
        *,
        on_gap: str = "raise",
        backoff: Optional[Backoff] = None,
        max_attempts: Optional[int] = None,
        metadata: Optional[Any] = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if on_gap not in ("raise", "yield"):
            raise ValueError(f"on_gap must be 'raise' or 'yield', not {on_gap!r}")
        self._stub = stub
        self._on_gap = on_gap
        self._metadata = metadata
        self._state = _Resumption(
            template=_without_cursor(request),
            cursor=request.resume_after,
            backoff=backoff or Backoff(),
            max_attempts=max_attempts,
            rand=rand,
        )
        self._closed = False
        # Created on first use, inside the event loop (Python 3.9 binds an
        # Event to the loop current when it is made).
        self._live_event: Optional[asyncio.Event] = None
        self._wake: Optional[asyncio.Event] = None
        self._call: Any = None
        self._iterator: AsyncIterator[E] = self._run()

    @property
    def cursor(self) -> str:
        return self._state.cursor

    @property
    def reconnects(self) -> int:
        return self._state.reconnects

    @property
    def _live(self) -> asyncio.Event:
        if self._live_event is None:
            self._live_event = asyncio.Event()
        return self._live_event

    async def wait_live(self) -> None:
        """Waits until the gateway has registered the current stream."""
        await self._live.wait()

    def close(self) -> None:
        self._closed = True
        if self._call is not None:
            self._call.cancel()
        if self._wake is not None:
            self._wake.set()

    def __aiter__(self) -> "AsyncSubscription[E]":
        return self

    async def __anext__(self) -> E:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> "AsyncSubscription[E]":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self._iterator.aclose()  # type: ignore[attr-defined]

    async def _run(self) -> AsyncIterator[Any]:
        state = self._state
        while not self._closed:
            call = self._call = self._stub.Subscribe(state.request(), metadata=self._metadata)
            error: Optional[grpc.RpcError] = None
            try:
                await call.initial_metadata()
                if not call.done():
                    self._live.set()
                    if state.pending_gap is not None:
                        gap, state.pending_gap = state.pending_gap, None
                        yield gap
                async for event in call:
                    state.delivered(event)
                    yield event
                code, details, trailing = grpc.StatusCode.OK, "", ()
            except grpc.RpcError as rpc_error:
                if self._closed:
                    return
                error = rpc_error
                code, details, trailing = _status_of(rpc_error)
            except asyncio.CancelledError:
                if self._closed:
                    return
                raise
            finally:
                self._live.clear()
                self._call = None
                call.cancel()
            decision = state.ended(code, details, trailing)
            if isinstance(decision, Gap):
                if self._on_gap == "raise":
                    raise GapError(decision, error)
                state.pending_gap = decision
                continue
            if isinstance(decision, _Fail):
                if error is None:
                    return
                raise error
            self._wake = asyncio.Event()
            try:
                await asyncio.wait_for(self._wake.wait(), decision.delay)
                return  # woken by close()
            except asyncio.TimeoutError:
                pass
            finally:
                self._wake = None


def _without_cursor(request: event_service_pb2.SubscribeRequest) -> event_service_pb2.SubscribeRequest:
    template = event_service_pb2.SubscribeRequest()
    template.CopyFrom(request)
    template.resume_after = ""
    return template


def _status_of(error: grpc.RpcError) -> Tuple[grpc.StatusCode, str, Any]:
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else ()
    return code, details or "", trailing or ()
