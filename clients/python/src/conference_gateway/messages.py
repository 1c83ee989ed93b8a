"""Building messages whose fields are Python keywords.

Several messages have a field named `from` (`DialRequest.from`, the `from` of
`call.initiated` and other payloads), which Python cannot take as a keyword
argument: `DialRequest(from="+1555...")` is a syntax error. `message()` takes
the usual trailing-underscore spelling instead:

    message(pb.DialRequest, connection_id=cid, from_="+15550000001", to=["+15550000002"])

Reading and setting such a field goes through `getattr` / `setattr`:
`getattr(request, "from")`, `setattr(request, "from", "+1555...")`, or
`field(request, "from_")`.
"""

from __future__ import annotations

from typing import Any, Dict, Type, TypeVar

from google.protobuf.message import Message

__all__ = ["message", "field", "proto_name"]

M = TypeVar("M", bound=Message)


def proto_name(cls_or_message: Any, name: str) -> str:
    """The proto field `name` stands for: `from_` is `from` when the message
    has a `from` field and no `from_` field; any other name is itself."""
    fields = cls_or_message.DESCRIPTOR.fields_by_name
    if name.endswith("_") and name not in fields and name[:-1] in fields:
        return name[:-1]
    return name


def message(cls: Type[M], /, **fields: Any) -> M:
    """`cls(**fields)`, where a keyword with a trailing underscore (`from_`)
    sets the proto field without it (`from`). Values are what the message's
    constructor takes: scalars, lists, messages, or dicts for sub-messages
    (whose keys may be spelled `"from"` directly)."""
    mapped: Dict[str, Any] = {}
    for name, value in fields.items():
        proto = proto_name(cls, name)
        if proto in mapped:
            raise TypeError(f"{cls.__name__}: field {proto!r} given twice (as {proto!r} and {proto + '_'!r})")
        mapped[proto] = value
    return cls(**mapped)


def field(msg: Message, name: str) -> Any:
    """`msg`'s field `name`, where `from_` reads `from`."""
    return getattr(msg, proto_name(msg, name))
