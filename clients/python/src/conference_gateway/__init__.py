"""Python client for conference-gateway.

    from conference_gateway import Client, message, pb

    with Client("127.0.0.1:50051", token) as client:
        call = client.calls.Dial(message(pb.DialRequest, connection_id=cid, from_="+15550000001", to=["+15550000002"]))
        for event in client.subscribe(["conference.*"]):
            print(event.event_type, event.cursor)

`pb` holds every message and enum; `conference_gateway.v1` the generated
modules (messages, typed `.pyi`, and gRPC stubs), built from the gateway's
protos when this package is built.
"""

from . import pb
from .client import DEFAULT_CHANNEL_OPTIONS, AsyncClient, Client
from .messages import field, message
from .subscription import RETRY_CODES, AsyncSubscription, Backoff, Gap, GapError, Subscription, status_error_info

__all__ = [
    "AsyncClient",
    "AsyncSubscription",
    "Backoff",
    "Client",
    "DEFAULT_CHANNEL_OPTIONS",
    "Gap",
    "GapError",
    "RETRY_CODES",
    "Subscription",
    "field",
    "message",
    "pb",
    "status_error_info",
]

__version__ = "0.1.0"
