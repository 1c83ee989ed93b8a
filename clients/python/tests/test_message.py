"""`message()`: proto fields named like Python keywords (`from`), spelled
with a trailing underscore."""

from __future__ import annotations

import pytest

from conference_gateway import field, message, pb
from conference_gateway.messages import proto_name


def test_from_underscore_sets_the_from_field():
    request = message(pb.DialRequest, connection_id="app-1", from_="+15550000001", to=["+15550000002"])
    assert isinstance(request, pb.DialRequest)
    assert getattr(request, "from") == "+15550000001"
    assert list(request.to) == ["+15550000002"]
    assert request.connection_id == "app-1"
    # The same bytes as setting it by name.
    by_name = pb.DialRequest(connection_id="app-1", to=["+15550000002"])
    setattr(by_name, "from", "+15550000001")
    assert request.SerializeToString() == by_name.SerializeToString()


def test_other_fields_and_nested_messages_pass_through():
    request = message(
        pb.DialRequest,
        connection_id="app-1",
        from_="+15550000001",
        to=["+15550000002"],
        custom_headers=[{"name": "X-Team", "value": "billing"}],
        timeout_secs=30,
    )
    assert request.custom_headers[0].name == "X-Team"
    assert request.timeout_secs == 30


def test_field_reads_a_keyword_field():
    payload = pb.CallInitiatedPayload(to="+15550000002")
    setattr(payload, "from", "+15550000001")
    assert field(payload, "from_") == "+15550000001"
    assert field(payload, "to") == "+15550000002"


def test_a_name_only_maps_when_the_message_has_the_field():
    assert proto_name(pb.DialRequest, "from_") == "from"
    assert proto_name(pb.DialRequest, "to") == "to"
    # No `to_` field and a `to` field: `to_` is `to` as well.
    assert proto_name(pb.DialRequest, "to_") == "to"
    # No `nope` field: left alone, so the constructor names the mistake.
    assert proto_name(pb.DialRequest, "nope_") == "nope_"
    with pytest.raises(ValueError, match="nope_"):
        message(pb.DialRequest, nope_="x")


def test_a_field_given_twice_is_refused():
    with pytest.raises(TypeError, match="'from' given twice"):
        message(pb.DialRequest, **{"from": "+1", "from_": "+2"})
