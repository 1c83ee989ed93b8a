//! EventService's unary RPCs, Telnyx's record of its webhook deliveries,
//! against a mock Telnyx: the exact query Telnyx receives (filters in
//! deepObject style, numbered pages behind AIP-158 tokens), the typed
//! deliveries read from the spec's example, and that these calls are
//! control calls like any other: authenticated, validated, and counted
//! against the limit on concurrent calls, while Subscribe streams are not.

use std::time::Duration;

use crate::support::{
    TestGateway, assert_invalid_field, assert_query, examples, json_response, telnyx,
};
use api::v1::{
    GetWebhookDeliveryRequest, ListWebhookDeliveriesRequest, SubscribeRequest, WebhookDelivery,
    WebhookDeliveryAttempt, WebhookDeliveryHttp, list_webhook_deliveries_request as list,
    webhook_delivery, webhook_delivery_attempt,
};
use prost_types::{ListValue, Struct, Timestamp, Value as ProtoValue, value::Kind};
use serde_json::{Value, json};
use tonic::Code;

const DELIVERY_ID: &str = "f5586561-8ff0-4291-a0ac-84fe544797bd";

/// Telnyx's example delivery: two attempts, the first failed with a 404.
fn delivery_json() -> Value {
    let mut delivery = examples::response("GET", "/webhook_deliveries/{id}")["data"].clone();
    // The spec shows no status; this delivery got through on its second attempt.
    delivery["status"] = json!("delivered");
    delivery
}

fn at(seconds: i64, millis: i32) -> Option<Timestamp> {
    Some(Timestamp {
        seconds,
        nanos: millis * 1_000_000,
    })
}

fn text(value: &str) -> ProtoValue {
    ProtoValue {
        kind: Some(Kind::StringValue(value.into())),
    }
}

fn header(name: &str, value: &str) -> ListValue {
    ListValue {
        values: vec![text(name), text(value)],
    }
}

fn attempt(
    url: &str,
    (started, finished): (Option<Timestamp>, Option<Timestamp>),
    status: i32,
    body: &str,
    response_headers: Vec<ListValue>,
) -> WebhookDeliveryAttempt {
    WebhookDeliveryAttempt {
        started_at: started,
        finished_at: finished,
        http: Some(WebhookDeliveryHttp {
            request: Some(api::v1::webhook_delivery_http::Request {
                headers: vec![header("Accept", "*/*")],
                url: url.into(),
            }),
            response: Some(api::v1::webhook_delivery_http::Response {
                body: body.into(),
                headers: response_headers,
                status: Some(status),
            }),
        }),
        ..Default::default()
    }
}

/// The proto form of [`delivery_json`], field by field.
fn delivery() -> WebhookDelivery {
    WebhookDelivery {
        id: DELIVERY_ID.into(),
        record_type: "webhook_delivery".into(),
        user_id: "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0".into(),
        status: webhook_delivery::Status::Delivered as i32,
        started_at: at(1_597_068_000, 0),
        finished_at: at(1_597_068_005, 595),
        webhook: Some(webhook_delivery::Webhook {
            event_type: "call_initiated".into(),
            id: "C9C0797E-901D-4349-A33C-C2C8F31A92C2".into(),
            occurred_at: at(1_597_064_521, 0),
            payload: Some(Struct {
                fields: [("useful".to_owned(), text("information"))].into(),
            }),
            record_type: "event".into(),
        }),
        attempts: vec![
            WebhookDeliveryAttempt {
                status: webhook_delivery_attempt::Status::Delivered as i32,
                ..attempt(
                    "https://fallback.example.com/webhooks",
                    (at(1_597_068_005, 364), at(1_597_068_005, 595)),
                    200,
                    "All good.",
                    vec![header("Content-Type", "text/html")],
                )
            },
            WebhookDeliveryAttempt {
                status: webhook_delivery_attempt::Status::Failed as i32,
                errors: vec![75499],
                ..attempt(
                    "https://typo.example.com/webhooks",
                    (at(1_597_068_005, 4), at(1_597_068_005, 360)),
                    404,
                    "Oops. Not found.",
                    vec![
                        header("Content-Type", "text/html"),
                        header("Pragma", "no-cache"),
                    ],
                )
            },
        ],
    }
}

fn failed_since(gte: &str) -> ListWebhookDeliveriesRequest {
    ListWebhookDeliveriesRequest {
        page_size: 25,
        filter: Some(list::Filter {
            status: Some(list::filter::Status {
                eq: list::filter::status::Eq::Failed as i32,
            }),
            event_type: "call.initiated,call.hangup".into(),
            webhook: Some(list::filter::Webhook {
                contains: "v3:MdI91X4lWFEs".into(),
            }),
            attempts: Some(list::filter::Attempts {
                contains: "https://typo.example.com".into(),
            }),
            started_at: Some(list::filter::StartedAt {
                gte: gte.into(),
                lte: "2020-08-11T00:00:00Z".into(),
            }),
            finished_at: Some(list::filter::FinishedAt {
                gte: gte.into(),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

const FILTERS: [(&str, &str); 7] = [
    ("filter[status][eq]", "failed"),
    ("filter[event_type]", "call.initiated,call.hangup"),
    ("filter[webhook][contains]", "v3:MdI91X4lWFEs"),
    ("filter[attempts][contains]", "https://typo.example.com"),
    ("filter[started_at][gte]", "2020-08-10T00:00:00Z"),
    ("filter[started_at][lte]", "2020-08-11T00:00:00Z"),
    ("filter[finished_at][gte]", "2020-08-10T00:00:00Z"),
];

fn page_json(page_number: u32) -> Value {
    json!({
        "data": [delivery_json()],
        "meta": {"page_number": page_number, "page_size": 25, "total_pages": 2, "total_results": 26},
    })
}

#[tokio::test]
async fn list_webhook_deliveries_sends_the_filters_and_pages_through_them() {
    let gateway = TestGateway::spawn().await;
    let mut events = gateway.events();

    gateway
        .expect_once(
            telnyx("GET", "/webhook_deliveries")
                .and(wiremock::matchers::query_param("page[number]", "1")),
            json_response(200, page_json(1)),
        )
        .await;
    let first = events
        .list_webhook_deliveries(failed_since("2020-08-10T00:00:00Z"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.webhook_deliveries, [delivery()]);
    assert_eq!(first.total_size, 26);
    assert!(!first.next_page_token.is_empty(), "page 1 of 2");
    let received = gateway.received().await;
    let mut expected = FILTERS.to_vec();
    expected.extend([("page[number]", "1"), ("page[size]", "25")]);
    assert_query(&received[0], &expected);
    assert!(received[0].body.is_empty(), "a GET has no body");

    gateway
        .expect_once(
            telnyx("GET", "/webhook_deliveries")
                .and(wiremock::matchers::query_param("page[number]", "2")),
            json_response(200, page_json(2)),
        )
        .await;
    let second = events
        .list_webhook_deliveries(ListWebhookDeliveriesRequest {
            page_token: first.next_page_token.clone(),
            page_size: 0,
            ..failed_since("2020-08-10T00:00:00Z")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.next_page_token, "", "the last page");
    let mut expected = FILTERS.to_vec();
    expected.extend([("page[number]", "2"), ("page[size]", "25")]);
    assert_query(&gateway.received().await[1], &expected);

    // The token pages through the list it was issued for, not another.
    let status = events
        .list_webhook_deliveries(ListWebhookDeliveriesRequest {
            page_token: first.next_page_token,
            ..failed_since("2020-08-09T00:00:00Z")
        })
        .await
        .unwrap_err();
    assert_invalid_field(&status, "page_token");
    assert_eq!(gateway.received().await.len(), 2);
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn get_webhook_delivery_reads_every_attempt() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("GET", &format!("/webhook_deliveries/{DELIVERY_ID}")),
            json_response(200, json!({"data": delivery_json()})),
        )
        .await;
    let response = gateway
        .events()
        .get_webhook_delivery(GetWebhookDeliveryRequest {
            webhook_delivery_id: DELIVERY_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.webhook_delivery, Some(delivery()));
    assert_query(&gateway.received().await[0], &[]);
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn webhook_delivery_calls_are_validated_and_authenticated_like_any_control_call() {
    let gateway = TestGateway::spawn().await;
    let status = gateway
        .events()
        .get_webhook_delivery(GetWebhookDeliveryRequest::default())
        .await
        .unwrap_err();
    assert_invalid_field(&status, "webhook_delivery_id");
    let status = gateway
        .events()
        .list_webhook_deliveries(ListWebhookDeliveriesRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid_field(&status, "page_size");

    let anonymous = api::v1::event_service_client::EventServiceClient::new(gateway.channel())
        .get_webhook_delivery(GetWebhookDeliveryRequest {
            webhook_delivery_id: DELIVERY_ID.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // A path EventService does not have is still UNIMPLEMENTED.
    let message = mapping::catalog()
        .pool()
        .get_message_by_name("conference_gateway.v1.GetWebhookDeliveryRequest")
        .unwrap();
    let status = gateway
        .call_path(
            "/conference_gateway.v1.EventService/Unsubscribe",
            prost_reflect::DynamicMessage::new(message.clone()),
            message,
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(
        gateway.received().await.is_empty(),
        "nothing reaches Telnyx"
    );
}

#[tokio::test]
async fn unary_event_calls_count_against_the_limit_and_streams_do_not() {
    let gateway = TestGateway::spawn_with(&["--max-concurrent-calls", "1"]).await;
    telnyx("GET", &format!("/webhook_deliveries/{DELIVERY_ID}"))
        .respond_with(
            json_response(200, json!({"data": delivery_json()}))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&gateway.telnyx)
        .await;
    let get = || GetWebhookDeliveryRequest {
        webhook_delivery_id: DELIVERY_ID.into(),
    };

    // An open stream takes no slot: the one slot is still free for a call.
    let _stream = gateway.subscribe(SubscribeRequest::default()).await;
    let mut first = gateway.events();
    let in_flight = tokio::spawn(async move { first.get_webhook_delivery(get()).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while gateway.received().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call never reached Telnyx"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The slot is the call's: a second one is shed.
    let status = gateway
        .events()
        .get_webhook_delivery(get())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    let delivered = in_flight
        .await
        .unwrap()
        .expect("the call in flight completes");
    assert_eq!(delivered.into_inner().webhook_delivery, Some(delivery()));
}
