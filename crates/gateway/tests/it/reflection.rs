//! Server reflection is enough for a tool with no proto files: it lists the
//! health service beside the API, and resolves the `google.rpc` detail types
//! (with their imports), so a status's `ErrorInfo` decodes instead of showing
//! as base64.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use tonic::transport::Channel;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::support::TestGateway;
use api::v1::SubscribeRequest;

/// One reflection question, one answer.
async fn ask(channel: &Channel, question: MessageRequest) -> MessageResponse {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(question),
    };
    ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .expect("a reflection answer")
        .message_response
        .expect("an answer body")
}

fn files(answer: MessageResponse) -> Vec<FileDescriptorProto> {
    match answer {
        MessageResponse::FileDescriptorResponse(files) => files
            .file_descriptor_proto
            .iter()
            .map(|bytes| FileDescriptorProto::decode(&bytes[..]).unwrap())
            .collect(),
        other => panic!("expected files, got {other:?}"),
    }
}

/// What a reflection client does: the files defining `symbols`, then every
/// import they name, asked for by file name, until nothing is missing.
async fn resolve(channel: &Channel, symbols: &[&str]) -> DescriptorPool {
    let mut known = BTreeMap::new();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut answer = Vec::new();
    for symbol in symbols {
        answer.extend(files(
            ask(
                channel,
                MessageRequest::FileContainingSymbol((*symbol).into()),
            )
            .await,
        ));
    }
    loop {
        for file in answer.drain(..) {
            wanted.extend(file.dependency.iter().cloned());
            known.insert(file.name().to_owned(), file);
        }
        let Some(missing) = wanted
            .iter()
            .find(|name| !known.contains_key(*name))
            .cloned()
        else {
            break;
        };
        answer = files(ask(channel, MessageRequest::FileByFilename(missing)).await);
    }
    DescriptorPool::from_file_descriptor_set(FileDescriptorSet {
        file: known.into_values().collect(),
    })
    .expect("the served files form a complete pool")
}

#[tokio::test]
async fn reflection_lists_the_health_service_beside_the_api() {
    let gateway = TestGateway::spawn().await;
    let MessageResponse::ListServicesResponse(list) = ask(
        &gateway.channel(),
        MessageRequest::ListServices(String::new()),
    )
    .await
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "conference_gateway.v1.ConferenceService",
        "conference_gateway.v1.EventService",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing from {names:?}"
        );
    }
    let pool = resolve(&gateway.channel(), &["grpc.health.v1.Health"]).await;
    let check = pool
        .get_service_by_name("grpc.health.v1.Health")
        .expect("the health service")
        .methods()
        .find(|method| method.name() == "Check")
        .expect("Health.Check");
    assert_eq!(
        check.input().full_name(),
        "grpc.health.v1.HealthCheckRequest"
    );
}

#[tokio::test]
async fn an_error_info_decodes_with_what_reflection_serves() {
    let gateway = TestGateway::spawn().await;
    let pool = resolve(
        &gateway.channel(),
        &["google.rpc.ErrorInfo", "google.rpc.Status"],
    )
    .await;
    for detail in [
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
        "google.rpc.RetryInfo",
        "google.rpc.Status",
    ] {
        assert!(
            pool.get_message_by_name(detail).is_some(),
            "{detail} not served"
        );
    }

    // A real status from the gateway, decoded as a tool would: google.rpc.Status,
    // then its Any details by type URL, with nothing compiled in.
    let status = gateway
        .events()
        .subscribe(SubscribeRequest {
            resume_after: "not-a-cursor".into(),
            ..Default::default()
        })
        .await
        .expect_err("a malformed cursor is refused");
    assert_eq!(status.code(), tonic::Code::OutOfRange);
    let rpc_status = DynamicMessage::decode(
        pool.get_message_by_name("google.rpc.Status").unwrap(),
        status.details(),
    )
    .unwrap();
    let details = rpc_status.get_field_by_name("details").unwrap();
    let Value::List(details) = details.as_ref() else {
        panic!("details is a list: {details:?}");
    };
    let any = details[0].as_message().expect("an Any");
    let type_url = any.get_field_by_name("type_url").unwrap();
    let name = type_url
        .as_str()
        .unwrap()
        .strip_prefix("type.googleapis.com/")
        .expect("a type URL")
        .to_owned();
    let value = any.get_field_by_name("value").unwrap();
    let info = DynamicMessage::decode(
        pool.get_message_by_name(&name)
            .expect("the detail's type is served"),
        value.as_bytes().unwrap().clone(),
    )
    .unwrap();
    assert_eq!(name, "google.rpc.ErrorInfo");
    assert_eq!(
        info.get_field_by_name("reason").unwrap().as_str(),
        Some("CURSOR_MALFORMED")
    );
}
