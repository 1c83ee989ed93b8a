//! QueueService end to end: every RPC against a mock Telnyx, checking the
//! exact request Telnyx receives (method, path, query, body) and the mapping
//! of Telnyx's answer into the response, field by field.

use crate::support::{
    TestGateway, assert_invalid_field, assert_query, json_response, ok_result, telnyx,
    telnyx_error, telnyx_with_body,
};
use api::v1::{
    CreateQueueRequest, DeleteQueueCallRequest, DeleteQueueCallResponse, DeleteQueueRequest,
    DeleteQueueResponse, EnqueueCallRequest, GetQueueCallRequest, GetQueueRequest,
    LeaveQueueRequest, ListQueueCallsRequest, ListQueuesRequest, Queue, QueueCall,
    UpdateQueueCallRequest, UpdateQueueCallResponse, UpdateQueueRequest,
};
use prost_types::Timestamp;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;
use wiremock::ResponseTemplate;

const QUEUE_NAME: &str = "tier_1_support";
const QUEUE_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const CALL_CONTROL_ID: &str = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
const CLIENT_STATE: &str = "aGF2ZSBhIG5pY2UgZGF5ID1d";
const COMMAND_ID: &str = "891510ac-f3e4-11e8-af5b-de00688a4901";
/// `2019-01-23T18:10:02.574Z`, the timestamp of Telnyx's examples.
const CREATED: Timestamp = Timestamp {
    seconds: 1_548_267_002,
    nanos: 574_000_000,
};
/// `2019-01-23T18:11:34.120Z`.
const UPDATED: Timestamp = Timestamp {
    seconds: 1_548_267_094,
    nanos: 120_000_000,
};

fn queue_path() -> String {
    format!("/queues/{QUEUE_NAME}")
}

fn queue_call_path() -> String {
    format!("/queues/{QUEUE_NAME}/calls/{CALL_CONTROL_ID}")
}

fn action_path(action: &str) -> String {
    format!("/calls/{CALL_CONTROL_ID}/actions/{action}")
}

/// A queue as Telnyx returns it.
fn queue_json(id: &str, name: &str, max_size: i32) -> Value {
    json!({
        "record_type": "queue",
        "id": id,
        "name": name,
        "current_size": 20,
        "max_size": max_size,
        "average_wait_time_secs": 175,
        "created_at": "2019-01-23T18:10:02.574Z",
        "updated_at": "2019-01-23T18:11:34.120Z",
    })
}

/// The proto form of [`queue_json`].
fn queue(id: &str, name: &str, max_size: i32) -> Queue {
    Queue {
        record_type: "queue".into(),
        id: id.into(),
        name: name.into(),
        current_size: Some(20),
        max_size: Some(max_size),
        average_wait_time_secs: Some(175),
        created_at: Some(CREATED),
        updated_at: Some(UPDATED),
    }
}

/// Telnyx's answer carrying the `tier_1_support` queue.
fn tier_1_queue_response(max_size: i32) -> ResponseTemplate {
    json_response(
        200,
        json!({"data": queue_json(QUEUE_ID, QUEUE_NAME, max_size)}),
    )
}

/// A queued call as Telnyx returns it.
fn queue_call_json(call_control_id: &str, position: i32, is_alive: bool) -> Value {
    json!({
        "record_type": "queue_call",
        "call_control_id": call_control_id,
        "call_leg_id": "2dc6fc34-f9e0-11ea-b68e-02420a0f7768",
        "call_session_id": "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768",
        "connection_id": "7267xxxxxxxxxxxxxx",
        "enqueued_at": "2019-01-23T18:10:02.574Z",
        "from": "+18005550101",
        "to": "+18005550102",
        "is_alive": is_alive,
        "queue_id": "ae1626cc-6f42-11ea-becd-02420a0f8b69",
        "queue_position": position,
        "wait_time_secs": 145,
    })
}

/// The proto form of [`queue_call_json`].
fn queue_call(call_control_id: &str, position: i32, is_alive: bool) -> QueueCall {
    QueueCall {
        record_type: "queue_call".into(),
        call_control_id: call_control_id.into(),
        call_leg_id: "2dc6fc34-f9e0-11ea-b68e-02420a0f7768".into(),
        call_session_id: "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768".into(),
        connection_id: "7267xxxxxxxxxxxxxx".into(),
        enqueued_at: Some(CREATED),
        from: "+18005550101".into(),
        to: "+18005550102".into(),
        is_alive: Some(is_alive),
        queue_id: "ae1626cc-6f42-11ea-becd-02420a0f8b69".into(),
        queue_position: Some(position),
        wait_time_secs: Some(145),
    }
}

/// Telnyx's answer to a list: `data` and numbered paging `meta`.
fn list_page(data: Vec<Value>, page_number: u32, total_pages: u32, total: u32) -> ResponseTemplate {
    json_response(
        200,
        json!({
            "data": data,
            "meta": {
                "page_number": page_number,
                "page_size": 2,
                "total_pages": total_pages,
                "total_results": total,
            },
        }),
    )
}

/// The one request Telnyx received.
async fn only_request(gateway: &TestGateway) -> wiremock::Request {
    let mut received = gateway.received().await;
    assert_eq!(received.len(), 1, "exactly one request reaches Telnyx");
    received.remove(0)
}

#[tokio::test]
async fn list_queues_pages_by_number_and_maps_each_queue() {
    let gateway = TestGateway::spawn().await;
    telnyx("GET", "/queues")
        .and(wiremock::matchers::query_param("page[number]", "1"))
        .and(wiremock::matchers::query_param("page[size]", "2"))
        .respond_with(list_page(
            vec![
                queue_json(QUEUE_ID, "support", 50),
                queue_json("5b1c7d52-2f0e-4c2b-9a7b-0f4a3e1d9c11", "sales", 300),
            ],
            1,
            2,
            3,
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    telnyx("GET", "/queues")
        .and(wiremock::matchers::query_param("page[number]", "2"))
        .and(wiremock::matchers::query_param("page[size]", "2"))
        .respond_with(list_page(
            vec![queue_json(
                "9d2f3a10-8c4e-4f6b-a1d2-3e4f5a6b7c8d",
                "billing",
                100,
            )],
            2,
            2,
            3,
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;

    let first = gateway
        .queues()
        .list_queues(ListQueuesRequest {
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.queues,
        [
            queue(QUEUE_ID, "support", 50),
            queue("5b1c7d52-2f0e-4c2b-9a7b-0f4a3e1d9c11", "sales", 300),
        ]
    );
    assert_eq!(first.total_size, 3);
    assert!(!first.next_page_token.is_empty(), "a second page follows");

    let second = gateway
        .queues()
        .list_queues(ListQueuesRequest {
            page_size: 0,
            page_token: first.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        second.queues,
        [queue(
            "9d2f3a10-8c4e-4f6b-a1d2-3e4f5a6b7c8d",
            "billing",
            100
        )]
    );
    assert_eq!(second.total_size, 3);
    assert_eq!(
        second.next_page_token, "",
        "the last page has no next token"
    );

    let received = gateway.received().await;
    assert_query(&received[0], &[("page[number]", "1"), ("page[size]", "2")]);
    assert_query(&received[1], &[("page[number]", "2"), ("page[size]", "2")]);
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn create_queue_posts_name_and_size_and_maps_the_queue() {
    let gateway = TestGateway::spawn().await;
    let body = json!({"queue_name": QUEUE_NAME, "max_size": 100});
    gateway
        .expect_once(
            telnyx_with_body("POST", "/queues", body),
            tier_1_queue_response(100),
        )
        .await;

    let response = gateway
        .queues()
        .create_queue(CreateQueueRequest {
            queue_name: QUEUE_NAME.into(),
            max_size: Some(100),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.queue, Some(queue(QUEUE_ID, QUEUE_NAME, 100)));
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn get_queue_fetches_by_name_and_maps_the_queue() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(telnyx("GET", &queue_path()), tier_1_queue_response(50))
        .await;

    let response = gateway
        .queues()
        .get_queue(GetQueueRequest {
            queue_name: QUEUE_NAME.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.queue, Some(queue(QUEUE_ID, QUEUE_NAME, 50)));
    let request = only_request(&gateway).await;
    assert_query(&request, &[]);
    assert!(request.body.is_empty(), "a GET carries no body");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn update_queue_posts_the_new_size_and_maps_the_queue() {
    let gateway = TestGateway::spawn().await;
    let body = json!({"max_size": 200});
    gateway
        .expect_once(
            telnyx_with_body("POST", &queue_path(), body),
            tier_1_queue_response(200),
        )
        .await;

    let response = gateway
        .queues()
        .update_queue(UpdateQueueRequest {
            queue_name: QUEUE_NAME.into(),
            max_size: Some(200),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.queue, Some(queue(QUEUE_ID, QUEUE_NAME, 200)));
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn delete_queue_accepts_telnyx_204_without_body() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(telnyx("DELETE", &queue_path()), ResponseTemplate::new(204))
        .await;

    let response = gateway
        .queues()
        .delete_queue(DeleteQueueRequest {
            queue_name: QUEUE_NAME.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response, DeleteQueueResponse {});
    let request = only_request(&gateway).await;
    assert_query(&request, &[]);
    assert!(request.body.is_empty(), "a DELETE carries no body");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn list_queue_calls_maps_calls_and_ends_on_the_last_page() {
    let gateway = TestGateway::spawn().await;
    telnyx("GET", &format!("{}/calls", queue_path()))
        .and(wiremock::matchers::query_param("page[number]", "1"))
        .and(wiremock::matchers::query_param("page[size]", "25"))
        .respond_with(list_page(
            vec![
                queue_call_json(CALL_CONTROL_ID, 1, true),
                queue_call_json("v3:Yd0ohfCBmqiK1QOzWZ0tVxTnj9Qej0yVMnhjrXOr8ew", 2, false),
            ],
            1,
            1,
            2,
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;

    let response = gateway
        .queues()
        .list_queue_calls(ListQueueCallsRequest {
            queue_name: QUEUE_NAME.into(),
            page_size: 25,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.queue_calls,
        [
            queue_call(CALL_CONTROL_ID, 1, true),
            queue_call("v3:Yd0ohfCBmqiK1QOzWZ0tVxTnj9Qej0yVMnhjrXOr8ew", 2, false),
        ]
    );
    assert_eq!(response.total_size, 2);
    assert_eq!(response.next_page_token, "");
    assert_query(
        &only_request(&gateway).await,
        &[("page[number]", "1"), ("page[size]", "25")],
    );
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn get_queue_call_fetches_by_queue_and_call_and_maps_it() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("GET", &queue_call_path()),
            json_response(
                200,
                json!({"data": queue_call_json(CALL_CONTROL_ID, 3, true)}),
            ),
        )
        .await;

    let response = gateway
        .queues()
        .get_queue_call(GetQueueCallRequest {
            queue_name: QUEUE_NAME.into(),
            call_control_id: CALL_CONTROL_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.queue_call,
        Some(queue_call(CALL_CONTROL_ID, 3, true))
    );
    assert_query(&only_request(&gateway).await, &[]);
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn get_queue_call_404_is_not_found_with_telnyx_code_and_title() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("GET", &queue_call_path()),
            telnyx_error(404, "10007", "Resource not found", "Resource not found"),
        )
        .await;

    let status = gateway
        .queues()
        .get_queue_call(GetQueueCallRequest {
            queue_name: QUEUE_NAME.into(),
            call_control_id: CALL_CONTROL_ID.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains("10007 Resource not found"),
        "{}",
        status.message()
    );
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "TELNYX_10007");
    assert_eq!(info.metadata["http_status"], "404");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn update_queue_call_patches_an_explicit_false_and_accepts_204() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body(
                "PATCH",
                &queue_call_path(),
                json!({"keep_after_hangup": false}),
            ),
            ResponseTemplate::new(204),
        )
        .await;

    let response = gateway
        .queues()
        .update_queue_call(UpdateQueueCallRequest {
            queue_name: QUEUE_NAME.into(),
            call_control_id: CALL_CONTROL_ID.into(),
            keep_after_hangup: Some(false),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response, UpdateQueueCallResponse {});
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn delete_queue_call_accepts_telnyx_204_without_body() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("DELETE", &queue_call_path()),
            ResponseTemplate::new(204),
        )
        .await;

    let response = gateway
        .queues()
        .delete_queue_call(DeleteQueueCallRequest {
            queue_name: QUEUE_NAME.into(),
            call_control_id: CALL_CONTROL_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response, DeleteQueueCallResponse {});
    let request = only_request(&gateway).await;
    assert_query(&request, &[]);
    assert!(request.body.is_empty(), "a DELETE carries no body");
    gateway.assert_requests_conform().await;
}

fn enqueue() -> EnqueueCallRequest {
    EnqueueCallRequest {
        call_control_id: CALL_CONTROL_ID.into(),
        queue_name: QUEUE_NAME.into(),
        client_state: CLIENT_STATE.into(),
        command_id: COMMAND_ID.into(),
        keep_after_hangup: Some(false),
        max_size: Some(20),
        max_wait_time_secs: Some(600),
    }
}

#[tokio::test]
async fn enqueue_call_posts_every_field() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body(
                "POST",
                &action_path("enqueue"),
                json!({
                    "queue_name": QUEUE_NAME,
                    "client_state": CLIENT_STATE,
                    "command_id": COMMAND_ID,
                    "keep_after_hangup": false,
                    "max_size": 20,
                    "max_wait_time_secs": 600,
                }),
            ),
            ok_result(),
        )
        .await;

    let response = gateway
        .queues()
        .enqueue_call(enqueue())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, "ok");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn enqueue_call_into_a_full_queue_is_failed_precondition() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("POST", &action_path("enqueue")),
            telnyx_error(
                422,
                "90036",
                "Queue full",
                "The queue has reached its maximum size.",
            ),
        )
        .await;

    let status = gateway.queues().enqueue_call(enqueue()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("90036"), "{}", status.message());
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "TELNYX_90036");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn leave_queue_posts_state_and_command_id() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body(
                "POST",
                &action_path("leave_queue"),
                json!({"client_state": CLIENT_STATE, "command_id": COMMAND_ID}),
            ),
            ok_result(),
        )
        .await;

    let response = gateway
        .queues()
        .leave_queue(LeaveQueueRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            client_state: CLIENT_STATE.into(),
            command_id: COMMAND_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, "ok");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn validation_refuses_missing_fields_and_empty_ids_before_sending() {
    let gateway = TestGateway::spawn().await;
    let mut queues = gateway.queues();
    let queue_call = |queue_name: &str, call_control_id: &str| GetQueueCallRequest {
        queue_name: queue_name.into(),
        call_control_id: call_control_id.into(),
    };
    let refused = [
        (
            "queue_name",
            queues
                .create_queue(CreateQueueRequest {
                    queue_name: String::new(),
                    max_size: Some(100),
                })
                .await
                .unwrap_err(),
        ),
        (
            "queue_name",
            queues
                .enqueue_call(EnqueueCallRequest {
                    queue_name: String::new(),
                    ..enqueue()
                })
                .await
                .unwrap_err(),
        ),
        (
            "max_size",
            queues
                .update_queue(UpdateQueueRequest {
                    queue_name: QUEUE_NAME.into(),
                    max_size: None,
                })
                .await
                .unwrap_err(),
        ),
        // Path ids: empty or blank.
        (
            "queue_name",
            queues
                .get_queue(GetQueueRequest {
                    queue_name: String::new(),
                })
                .await
                .unwrap_err(),
        ),
        (
            "queue_name",
            queues
                .update_queue(UpdateQueueRequest {
                    queue_name: " ".into(),
                    max_size: Some(200),
                })
                .await
                .unwrap_err(),
        ),
        (
            "queue_name",
            queues
                .delete_queue(DeleteQueueRequest {
                    queue_name: String::new(),
                })
                .await
                .unwrap_err(),
        ),
        (
            "queue_name",
            queues
                .list_queue_calls(ListQueueCallsRequest::default())
                .await
                .unwrap_err(),
        ),
        (
            "queue_name",
            queues
                .get_queue_call(queue_call("", CALL_CONTROL_ID))
                .await
                .unwrap_err(),
        ),
        (
            "call_control_id",
            queues
                .get_queue_call(queue_call(QUEUE_NAME, ""))
                .await
                .unwrap_err(),
        ),
        (
            "call_control_id",
            queues
                .update_queue_call(UpdateQueueCallRequest {
                    queue_name: QUEUE_NAME.into(),
                    call_control_id: "  ".into(),
                    keep_after_hangup: Some(true),
                })
                .await
                .unwrap_err(),
        ),
        (
            "queue_name",
            queues
                .delete_queue_call(DeleteQueueCallRequest {
                    queue_name: String::new(),
                    call_control_id: CALL_CONTROL_ID.into(),
                })
                .await
                .unwrap_err(),
        ),
        (
            "call_control_id",
            queues
                .delete_queue_call(DeleteQueueCallRequest {
                    queue_name: QUEUE_NAME.into(),
                    call_control_id: String::new(),
                })
                .await
                .unwrap_err(),
        ),
        (
            "call_control_id",
            queues
                .enqueue_call(EnqueueCallRequest {
                    call_control_id: String::new(),
                    ..enqueue()
                })
                .await
                .unwrap_err(),
        ),
        (
            "call_control_id",
            queues
                .leave_queue(LeaveQueueRequest::default())
                .await
                .unwrap_err(),
        ),
    ];
    for (field, status) in &refused {
        assert_invalid_field(status, field);
    }
    assert!(
        gateway.received().await.is_empty(),
        "nothing may reach Telnyx"
    );
}
