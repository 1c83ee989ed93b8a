"""Adds `authorization: Bearer <token>` to every call a channel makes."""

from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import grpc
import grpc.aio

Metadata = Sequence[Tuple[str, Any]]


class _Details(NamedTuple):
    method: str
    timeout: Optional[float]
    metadata: Optional[Metadata]
    credentials: Optional[grpc.CallCredentials]
    wait_for_ready: Optional[bool]
    compression: Any


class _SyncDetails(_Details, grpc.ClientCallDetails):  # type: ignore[misc]
    pass


def _pairs(details: Any, header: Tuple[str, str]) -> List[Tuple[str, Any]]:
    metadata = [tuple(m) for m in (details.metadata or ()) if m[0] != "authorization"]
    metadata.append(header)
    return metadata


def _with_token(details: Any, header: Tuple[str, str]) -> _SyncDetails:
    return _SyncDetails(
        details.method,
        details.timeout,
        _pairs(details, header),
        details.credentials,
        getattr(details, "wait_for_ready", None),
        getattr(details, "compression", None),
    )


def _with_token_async(details: Any, header: Tuple[str, str]) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*_pairs(details, header)),
        details.credentials,
        details.wait_for_ready,
    )


def _header(token: str) -> Tuple[str, str]:
    return ("authorization", f"Bearer {token}")


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """For `grpc.intercept_channel`: sends the token with every call."""

    def __init__(self, token: str) -> None:
        self._header = _header(token)

    def _details(self, details: Any) -> Any:
        return _with_token(details, self._header)

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


def async_interceptors(token: str) -> List[grpc.aio.ClientInterceptor]:
    """The same, for `grpc.aio` channels (one interceptor object per call kind)."""
    header = _header(token)

    def details(d: Any) -> Any:
        return _with_token_async(d, header)

    class UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
            return await continuation(details(client_call_details), request)

    class UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
        async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
            return await continuation(details(client_call_details), request)

    class StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
        async def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
            return await continuation(details(client_call_details), request_iterator)

    class StreamStream(grpc.aio.StreamStreamClientInterceptor):
        async def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
            return await continuation(details(client_call_details), request_iterator)

    return [UnaryUnary(), UnaryStream(), StreamUnary(), StreamStream()]
