//! Micro-benchmarks of the per-webhook and per-subscriber hot path:
//! signature verification, reading the envelope, converting to the typed
//! `Event`, and a subscriber's filter. `cargo bench --bench hot_path`.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conference_gateway::webhook::{PublicKeys, Verifier, envelope};
use criterion::{Criterion, criterion_group, criterion_main};
use events::{Cursor, Filter, Position, converter};
use telnyx_sim::Signer;

/// A `conference.participant.joined` webhook as Telnyx posts it.
fn body() -> Vec<u8> {
    br#"{"data":{"record_type":"event","id":"0ccc7b54-4df3-4bcb-a65a-3da1ecc997d7","event_type":"conference.participant.joined","occurred_at":"2024-05-01T12:34:56.789Z","payload":{"call_control_id":"v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg","call_leg_id":"428c31b6-7af4-4bcb-b7f5-5013ef9657c1","call_session_id":"428c31b6-abf3-4bcb-b7f5-5013ef9657c1","client_state":"aGF2ZSBhIG5pY2UgZGF5ID1d","conference_id":"41b9acd4-f4da-4ff5-a85c-e07e90b53f46","connection_id":"7267xxxxxxxxxxxxxx","creator_call_session_id":"428c31b6-abf3-4bcb-b7f5-5013ef9657c1","occurred_at":"2024-05-01T12:34:56.789Z"}},"meta":{"attempt":1,"delivered_to":"https://voice-gateway.example.com/webhooks/telnyx"}}"#.to_vec()
}

fn hot_path(c: &mut Criterion) {
    let key = Signer::from_seed([0x42; 32]);
    let keys: PublicKeys = key.public_key_base64().parse().expect("a valid key");
    let verifier = Verifier::new(keys, Duration::from_secs(300));
    let body = body();
    let now = SystemTime::now();
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .to_string();
    let signature = key.sign(&timestamp, &body);

    c.bench_function("verify_signature", |b| {
        b.iter(|| {
            let signed = verifier
                .check_headers(Some(timestamp.as_bytes()), Some(signature.as_bytes()), now)
                .expect("headers pass");
            verifier
                .verify(&signed, black_box(&body))
                .expect("signature passes");
        })
    });

    c.bench_function("parse_envelope", |b| {
        b.iter(|| envelope::parse(black_box(&body)).expect("an event"))
    });

    let parsed = envelope::parse(&body).expect("an event");
    let converter = converter();
    c.bench_function("convert_to_event", |b| {
        b.iter(|| converter.prepare(black_box(parsed.clone())))
    });

    let event = converter.prepare(parsed).seal(Cursor {
        epoch: 7,
        position: Position::new(1, 0),
    });
    let broad = Filter::new(&[], "", "", "").expect("a filter");
    let typed = Filter::new(
        &["call.*".into(), "conference.participant.*".into()],
        "41b9acd4-f4da-4ff5-a85c-e07e90b53f46",
        "",
        "",
    )
    .expect("a filter");
    let other =
        Filter::new(&["conference.*".into()], "another-conference", "", "").expect("a filter");
    c.bench_function("filter_broad", |b| {
        b.iter(|| broad.matches(black_box(&event)))
    });
    c.bench_function("filter_typed_conference", |b| {
        b.iter(|| typed.matches(black_box(&event)))
    });
    c.bench_function("filter_other_conference", |b| {
        b.iter(|| other.matches(black_box(&event)))
    });
}

/// The per-call work of a unary RPC between the gRPC and the HTTP layers:
/// finding the operation, the typed request as a dynamic message, the REST
/// call planned from it, and Telnyx's answer read back into the typed reply.
fn unary_mapping(c: &mut Criterion) {
    use api::v1::{EndConferenceRequest, EndConferenceResponse};
    use prost::Name as _;
    use prost_reflect::DynamicMessage;

    let catalog = mapping::catalog();
    let request = EndConferenceRequest {
        conference_id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
        command_id: String::new(),
    };
    let answer = serde_json::json!({"data": {"result": "ok"}});
    c.bench_function("unary_lookup_operation", |b| {
        b.iter(|| {
            catalog
                .operation(black_box(&EndConferenceRequest::full_name()))
                .expect("a mapped RPC")
        })
    });
    let operation = catalog
        .operation(&EndConferenceRequest::full_name())
        .expect("a mapped RPC");
    c.bench_function("unary_plan_call", |b| {
        b.iter(|| {
            let mut message = DynamicMessage::new(operation.input.clone());
            message
                .transcode_from(black_box(&request))
                .expect("transcodes");
            catalog.build_call(operation, &message).expect("a call")
        })
    });
    c.bench_function("unary_read_answer", |b| {
        b.iter(|| {
            catalog
                .decode_response(operation, black_box(&answer), None)
                .transcode_to::<EndConferenceResponse>()
                .expect("transcodes")
        })
    });
}

criterion_group!(benches, hot_path, unary_mapping);
criterion_main!(benches);
