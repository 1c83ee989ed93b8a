"""Connections to the gateway: `Client` (blocking) and `AsyncClient` (asyncio)."""

from __future__ import annotations

from typing import Any, Iterable, List, Literal, Optional, Sequence, Tuple, Union, overload

import grpc
import grpc.aio

from ._auth import BearerToken, async_interceptors
from .subscription import AsyncSubscription, Backoff, Gap, Subscription
from .v1 import (
    call_service_pb2_grpc,
    conference_service_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
    events_pb2,
    queue_service_pb2_grpc,
)

__all__ = ["Client", "AsyncClient", "DEFAULT_CHANNEL_OPTIONS"]

ChannelOptions = Sequence[Tuple[str, Any]]

#: Channel settings suited to long-lived event streams: a dead connection is
#: noticed within about 40 s (keepalive pings while a call is open), and a
#: gateway that comes back is reconnected to within 10 s rather than grpc's
#: default of up to 2 minutes. `options=` given to a client override these.
DEFAULT_CHANNEL_OPTIONS: ChannelOptions = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 10_000),
)


def _options(options: ChannelOptions) -> List[Tuple[str, Any]]:
    given = {name for name, _ in options}
    return [o for o in DEFAULT_CHANNEL_OPTIONS if o[0] not in given] + list(options)


def _credentials(
    tls: bool,
    root_certificates: Optional[bytes],
    private_key: Optional[bytes],
    certificate_chain: Optional[bytes],
) -> Optional[grpc.ChannelCredentials]:
    if not (tls or root_certificates or private_key or certificate_chain):
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=root_certificates,
        private_key=private_key,
        certificate_chain=certificate_chain,
    )


def _request(
    event_types: Iterable[str],
    conference_id: str,
    call_control_id: str,
    queue_name: str,
    resume_after: str,
) -> event_service_pb2.SubscribeRequest:
    if isinstance(event_types, str):
        event_types = [event_types]
    return event_service_pb2.SubscribeRequest(
        event_types=list(event_types),
        conference_id=conference_id,
        call_control_id=call_control_id,
        queue_name=queue_name,
        resume_after=resume_after,
    )


class Client:
    """A blocking connection to the gateway.

    `target` is `host:port`; `token` one of the gateway's caller tokens, sent
    as `authorization: Bearer <token>` with every call (None for a gateway run
    with `GATEWAY_ALLOW_UNAUTHENTICATED=true`). `tls=True` uses the system's
    roots; `root_certificates` (PEM) trusts a private CA, and `private_key`
    with `certificate_chain` present a client certificate (mutual TLS).

    The generated stubs are `calls`, `conferences`, `queues` and `events`;
    `subscribe()` is the event stream that resumes by itself.
    """

    def __init__(
        self,
        target: str,
        token: Optional[str] = None,
        *,
        tls: bool = False,
        root_certificates: Optional[bytes] = None,
        private_key: Optional[bytes] = None,
        certificate_chain: Optional[bytes] = None,
        options: ChannelOptions = (),
        channel: Optional[grpc.Channel] = None,
    ) -> None:
        if channel is None:
            credentials = _credentials(tls, root_certificates, private_key, certificate_chain)
            opts = _options(options)
            if credentials is None:
                channel = grpc.insecure_channel(target, options=opts)
            else:
                channel = grpc.secure_channel(target, credentials, options=opts)
        self._raw_channel = channel
        self.channel: grpc.Channel = grpc.intercept_channel(channel, BearerToken(token)) if token else channel
        self.calls = call_service_pb2_grpc.CallServiceStub(self.channel)
        self.conferences = conference_service_pb2_grpc.ConferenceServiceStub(self.channel)
        self.queues = queue_service_pb2_grpc.QueueServiceStub(self.channel)
        self.events = event_service_pb2_grpc.EventServiceStub(self.channel)

    @overload
    def subscribe(
        self,
        event_types: Iterable[str] = ...,
        *,
        conference_id: str = ...,
        call_control_id: str = ...,
        queue_name: str = ...,
        resume_after: str = ...,
        on_gap: Literal["raise"] = ...,
        backoff: Optional[Backoff] = ...,
        max_attempts: Optional[int] = ...,
    ) -> Subscription[events_pb2.Event]: ...

    @overload
    def subscribe(
        self,
        event_types: Iterable[str] = ...,
        *,
        conference_id: str = ...,
        call_control_id: str = ...,
        queue_name: str = ...,
        resume_after: str = ...,
        on_gap: Literal["yield"],
        backoff: Optional[Backoff] = ...,
        max_attempts: Optional[int] = ...,
    ) -> Subscription[Union[events_pb2.Event, Gap]]: ...

    def subscribe(
        self,
        event_types: Iterable[str] = (),
        *,
        conference_id: str = "",
        call_control_id: str = "",
        queue_name: str = "",
        resume_after: str = "",
        on_gap: str = "raise",
        backoff: Optional[Backoff] = None,
        max_attempts: Optional[int] = None,
    ) -> Subscription[Any]:
        """Events matching all the given filters (see `SubscribeRequest`),
        from after `resume_after` (a cursor received earlier) or live from
        now, resuming by itself after a cut-off or a lost connection.

        When the gateway cannot resume (OUT_OF_RANGE) events may have been
        missed: with `on_gap="raise"` (the default) iteration raises
        `GapError`; with `on_gap="yield"` a `Gap` item is yielded once the live
        stream that follows is registered, and live events follow it.
        `max_attempts` bounds consecutive reconnects without an event (None:
        forever); the last error is then raised.
        """
        request = _request(event_types, conference_id, call_control_id, queue_name, resume_after)
        return Subscription(self.events, request, on_gap=on_gap, backoff=backoff, max_attempts=max_attempts)

    def close(self) -> None:
        self._raw_channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The asyncio counterpart of `Client`, on `grpc.aio`: the stubs'
    methods return awaitables, and `subscribe()` an async iterator."""

    def __init__(
        self,
        target: str,
        token: Optional[str] = None,
        *,
        tls: bool = False,
        root_certificates: Optional[bytes] = None,
        private_key: Optional[bytes] = None,
        certificate_chain: Optional[bytes] = None,
        options: ChannelOptions = (),
    ) -> None:
        credentials = _credentials(tls, root_certificates, private_key, certificate_chain)
        interceptors = async_interceptors(token) if token else None
        opts = _options(options)
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(target, options=opts, interceptors=interceptors)
        else:
            self.channel = grpc.aio.secure_channel(target, credentials, options=opts, interceptors=interceptors)
        self.calls = call_service_pb2_grpc.CallServiceStub(self.channel)
        self.conferences = conference_service_pb2_grpc.ConferenceServiceStub(self.channel)
        self.queues = queue_service_pb2_grpc.QueueServiceStub(self.channel)
        self.events = event_service_pb2_grpc.EventServiceStub(self.channel)

    @overload
    def subscribe(
        self,
        event_types: Iterable[str] = ...,
        *,
        conference_id: str = ...,
        call_control_id: str = ...,
        queue_name: str = ...,
        resume_after: str = ...,
        on_gap: Literal["raise"] = ...,
        backoff: Optional[Backoff] = ...,
        max_attempts: Optional[int] = ...,
    ) -> AsyncSubscription[events_pb2.Event]: ...

    @overload
    def subscribe(
        self,
        event_types: Iterable[str] = ...,
        *,
        conference_id: str = ...,
        call_control_id: str = ...,
        queue_name: str = ...,
        resume_after: str = ...,
        on_gap: Literal["yield"],
        backoff: Optional[Backoff] = ...,
        max_attempts: Optional[int] = ...,
    ) -> AsyncSubscription[Union[events_pb2.Event, Gap]]: ...

    def subscribe(
        self,
        event_types: Iterable[str] = (),
        *,
        conference_id: str = "",
        call_control_id: str = "",
        queue_name: str = "",
        resume_after: str = "",
        on_gap: str = "raise",
        backoff: Optional[Backoff] = None,
        max_attempts: Optional[int] = None,
    ) -> AsyncSubscription[Any]:
        """As `Client.subscribe`, as an async iterator."""
        request = _request(event_types, conference_id, call_control_id, queue_name, resume_after)
        return AsyncSubscription(self.events, request, on_gap=on_gap, backoff=backoff, max_attempts=max_attempts)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
