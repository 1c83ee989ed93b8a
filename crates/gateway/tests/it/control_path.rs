//! The control path's behaviour shared by every RPC: the error table, retries
//! with a stable `command_id`, deadlines, validation before anything is sent,
//! paging, lenient reading and secrets.

use std::time::{Duration, Instant};

use crate::support::{TestGateway, json_response, ok_result, telnyx, telnyx_error};
use api::v1::{EndConferenceRequest, ListConferencesRequest, list_conferences_request};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;
use wiremock::ResponseTemplate;

fn end(conference_id: &str) -> EndConferenceRequest {
    EndConferenceRequest {
        conference_id: conference_id.into(),
        ..Default::default()
    }
}

/// Ends conference `c1` against a Telnyx that answers `response`, and
/// returns the gRPC status. Which status each Telnyx answer becomes is
/// unit-tested beside the mapping (`grpc::status`); these tests prove the
/// answer is read off the wire and reaches the caller intact.
async fn status_for(response: ResponseTemplate) -> tonic::Status {
    let gateway = TestGateway::spawn_with(&["--telnyx-max-retries", "0"]).await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(response)
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    gateway
        .conferences()
        .end_conference(end("c1"))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn error_table_keeps_telnyx_code_title_and_detail() {
    let status = status_for(telnyx_error(
        422,
        "90019",
        "Conference has already ended",
        "The conference has ended and cannot accept commands",
    ))
    .await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "Telnyx answered 422: 90019 Conference has already ended (The conference has ended and cannot accept commands)"
    );
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "TELNYX_90019");
    assert_eq!(info.domain, "telnyx.com");
    assert_eq!(info.metadata["code"], "90019");
    assert_eq!(info.metadata["title"], "Conference has already ended");
    assert_eq!(
        info.metadata["detail"],
        "The conference has ended and cannot accept commands"
    );
    assert_eq!(info.metadata["http_status"], "422");
}

#[tokio::test]
async fn error_table_5xx_is_unavailable_even_without_a_json_body() {
    let status = status_for(ResponseTemplate::new(502).set_body_string("upstream trouble")).await;
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("upstream trouble"));
}

#[tokio::test]
async fn error_table_connection_refused_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/v2");
    let gateway =
        TestGateway::spawn_with(&["--telnyx-base-url", &base, "--telnyx-max-retries", "0"]).await;
    let status = gateway
        .conferences()
        .end_conference(end("c1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn error_table_timeout_is_deadline_exceeded() {
    let gateway =
        TestGateway::spawn_with(&["--telnyx-max-retries", "0", "--telnyx-timeout-secs", "1"]).await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result().set_delay(Duration::from_secs(3)))
        .mount(&gateway.telnyx)
        .await;
    let status = gateway
        .conferences()
        .end_conference(end("c1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
}

#[tokio::test]
async fn callers_deadline_bounds_the_telnyx_call() {
    let gateway = TestGateway::spawn().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result().set_delay(Duration::from_secs(5)))
        .mount(&gateway.telnyx)
        .await;
    // The header alone, without a client-side timer, so the status seen is
    // the gateway's own answer.
    let mut request = tonic::Request::new(end("c1"));
    request
        .metadata_mut()
        .insert("grpc-timeout", "1S".parse().unwrap());
    let started = Instant::now();
    let status = gateway
        .conferences()
        .end_conference(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retries_429_honouring_retry_after_then_succeeds() {
    let gateway = TestGateway::spawn().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(
            telnyx_error(429, "10011", "Too many requests", "").insert_header("retry-after", "1"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result())
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    let started = Instant::now();
    let response = gateway
        .conferences()
        .end_conference(end("c1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, "ok");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After was not honoured"
    );
}

#[tokio::test]
async fn retried_post_reuses_its_generated_command_id() {
    let gateway = TestGateway::spawn().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&gateway.telnyx)
        .await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result())
        .mount(&gateway.telnyx)
        .await;
    gateway
        .conferences()
        .end_conference(end("c1"))
        .await
        .unwrap();

    let received = gateway.received().await;
    assert_eq!(received.len(), 2, "one failure, one retry");
    let ids: Vec<String> = received
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["command_id"]
                .as_str()
                .expect("a generated command_id")
                .to_owned()
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
    uuid::Uuid::parse_str(&ids[0]).expect("the generated command_id is a UUID");
}

#[tokio::test]
async fn callers_command_id_is_kept() {
    let gateway = TestGateway::spawn().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .and(wiremock::matchers::body_json(
            json!({"command_id": "mine-1"}),
        ))
        .respond_with(ok_result())
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    let request = EndConferenceRequest {
        conference_id: "c1".into(),
        command_id: "mine-1".into(),
    };
    gateway.conferences().end_conference(request).await.unwrap();
}

#[tokio::test]
async fn gives_up_after_max_retries() {
    let gateway = TestGateway::spawn_with(&["--telnyx-max-retries", "2"]).await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after-ms", "10"))
        .expect(3)
        .mount(&gateway.telnyx)
        .await;
    let status = gateway
        .conferences()
        .end_conference(end("c1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
}

#[tokio::test]
async fn state_errors_are_not_retried() {
    let gateway = TestGateway::spawn().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(telnyx_error(
            422,
            "90019",
            "Conference has already ended",
            "",
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    let status = gateway
        .conferences()
        .end_conference(end("c1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn validation_refuses_an_empty_id_and_sends_nothing() {
    let gateway = TestGateway::spawn().await;
    for id in ["", "   "] {
        let status = gateway
            .conferences()
            .end_conference(end(id))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "conference_id is required");
        let violations = status.get_details_bad_request().expect("BadRequest detail");
        assert_eq!(violations.field_violations[0].field, "conference_id");
    }
    assert!(
        gateway.received().await.is_empty(),
        "nothing may reach Telnyx"
    );
}

#[tokio::test]
async fn ids_are_escaped_into_the_path() {
    let gateway = TestGateway::spawn().await;
    telnyx("POST", "/conferences/a%2Fb%3Fc/actions/end")
        .respond_with(ok_result())
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    gateway
        .conferences()
        .end_conference(end("a/b?c"))
        .await
        .unwrap();
}

fn conference(id: &str) -> Value {
    json!({
        "record_type": "conference",
        "id": id,
        "name": format!("room {id}"),
        "created_at": "2019-01-23T18:10:02.574Z",
        "expires_at": "2019-01-23T22:10:02.574Z",
        "status": "in_progress",
    })
}

fn page(ids: &[&str], number: u32, total_pages: u32) -> ResponseTemplate {
    json_response(
        200,
        json!({
            "data": ids.iter().map(|id| conference(id)).collect::<Vec<_>>(),
            "meta": {"page_number": number, "page_size": 2, "total_pages": total_pages, "total_results": 5},
        }),
    )
}

#[tokio::test]
async fn paging_walks_three_pages_to_the_end() {
    let gateway = TestGateway::spawn().await;
    for (number, ids) in [(1, vec!["a", "b"]), (2, vec!["c", "d"]), (3, vec!["e"])] {
        telnyx("GET", "/conferences")
            .and(wiremock::matchers::query_param(
                "page[number]",
                number.to_string(),
            ))
            .and(wiremock::matchers::query_param("page[size]", "2"))
            .and(wiremock::matchers::query_param("filter[name]", "standup"))
            .respond_with(page(&ids, number, 3))
            .expect(1)
            .mount(&gateway.telnyx)
            .await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListConferencesRequest {
            page_size: 2,
            page_token: token.clone(),
            filter: Some(list_conferences_request::Filter {
                name: "standup".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let response = gateway
            .conferences()
            .list_conferences(request)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.total_size, 5);
        seen.extend(response.conferences.into_iter().map(|c| c.id));
        if response.next_page_token.is_empty() {
            break;
        }
        token = response.next_page_token;
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn a_page_token_is_bound_to_its_filters() {
    let gateway = TestGateway::spawn().await;
    telnyx("GET", "/conferences")
        .respond_with(page(&["a", "b"], 1, 3))
        .mount(&gateway.telnyx)
        .await;
    let first = ListConferencesRequest {
        page_size: 2,
        filter: Some(list_conferences_request::Filter {
            name: "standup".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = gateway
        .conferences()
        .list_conferences(first)
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    let other = ListConferencesRequest {
        page_token: token,
        ..Default::default()
    };
    let status = gateway
        .conferences()
        .list_conferences(other)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("page_token "),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn unknown_fields_and_enum_values_never_fail_a_call() {
    let gateway = TestGateway::spawn().await;
    let mut odd = conference("x");
    odd["status"] = json!("a_status_telnyx_added_later");
    odd["brand_new_field"] = json!({"nested": [1, 2, 3]});
    odd["created_at"] = json!("not a timestamp");
    odd["name"] = Value::Null;
    telnyx("GET", "/conferences/x")
        .respond_with(json_response(200, json!({"data": odd})))
        .mount(&gateway.telnyx)
        .await;
    let request = api::v1::GetConferenceRequest {
        conference_id: "x".into(),
        ..Default::default()
    };
    let response = gateway
        .conferences()
        .get_conference(request)
        .await
        .unwrap()
        .into_inner();
    let conference = response.conference.expect("conference");
    assert_eq!(conference.id, "x");
    assert_eq!(
        conference.status, 0,
        "unknown enum value reads as UNSPECIFIED"
    );
    assert!(conference.created_at.is_none());
    assert_eq!(conference.name, "");
}

#[tokio::test]
async fn the_callers_trace_continues_into_the_telnyx_request() {
    let gateway = TestGateway::spawn().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .and(wiremock::matchers::header_regex(
            "traceparent",
            "^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$",
        ))
        .respond_with(ok_result())
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    let mut request = tonic::Request::new(end("c1"));
    request.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    gateway.conferences().end_conference(request).await.unwrap();
    let sent = gateway.received().await;
    let header = sent[0].headers["traceparent"].to_str().unwrap();
    assert!(
        !header.contains("00f067aa0ba902b7"),
        "the gateway's own span id is sent"
    );
}
