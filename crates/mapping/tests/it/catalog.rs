//! The catalog the gateway builds from its protos at start.

use api::v1::UpdateClientStateRequest;
use reqwest::Method;
use serde_json::json;

use crate::{catalog, dynamic};

#[test]
fn every_unary_rpc_is_a_telnyx_operation() {
    let pool = catalog().pool();
    let mut per_service = Vec::new();
    let mut own = Vec::new();
    for service in pool.services() {
        // The state service answers from the event stream, not from Telnyx:
        // none of its methods stands for an operation.
        if service
            .methods()
            .all(|m| catalog().operation(m.input().full_name()).is_none())
        {
            own.push(service.name().to_owned());
            continue;
        }
        let mut unary = 0;
        for method in service.methods() {
            if method.is_server_streaming() {
                continue;
            }
            let operation = catalog()
                .operation(method.input().full_name())
                .unwrap_or_else(|| panic!("{} declares no operation", method.full_name()));
            assert_eq!(operation.rpc, method.full_name());
            unary += 1;
        }
        per_service.push((service.name().to_owned(), unary));
    }
    per_service.sort();
    assert_eq!(
        per_service,
        [
            ("CallService".to_owned(), 47),
            ("ConferenceService".to_owned(), 23),
            ("EventService".to_owned(), 2),
            ("QueueService".to_owned(), 11),
        ]
    );
    assert_eq!(own, ["StateService"]);
    assert_eq!(catalog().operations().count(), 83, "Telnyx's voice API");
}

#[test]
fn a_put_carries_its_fields_as_a_json_body() {
    let operation = catalog()
        .operation("conference_gateway.v1.UpdateClientStateRequest")
        .unwrap();
    assert_eq!(operation.method, Method::PUT);
    assert!(operation.is_idempotent(), "PUT replaces: safe to retry");
    let request = dynamic(&UpdateClientStateRequest {
        call_control_id: "v3:abc".into(),
        client_state: "aGF2ZSBhIG5pY2UgZGF5ID1d".into(),
    });
    let planned = catalog().build_call(operation, &request).unwrap();
    assert_eq!(planned.call.method, Method::PUT);
    assert_eq!(
        planned.call.path,
        "/calls/v3:abc/actions/client_state_update"
    );
    assert!(planned.call.query.is_empty());
    assert_eq!(
        planned.call.body,
        Some(json!({"client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d"})),
        "Telnyx takes no command_id here, so none is generated"
    );
}

#[test]
fn list_webhook_deliveries_pages_by_number_with_deep_object_filters() {
    let operation = catalog()
        .operation("conference_gateway.v1.ListWebhookDeliveriesRequest")
        .unwrap();
    assert_eq!(operation.method, Method::GET);
    let paging = operation.paging.as_ref().expect("a list");
    assert!(!paging.cursor, "Telnyx numbers these pages");
    assert_eq!(
        operation.data_field.as_ref().map(|f| f.name()),
        Some("webhook_deliveries")
    );
    let get = catalog()
        .operation("conference_gateway.v1.GetWebhookDeliveryRequest")
        .unwrap();
    assert_eq!(
        get.path_template,
        "/webhook_deliveries/{webhook_delivery_id}"
    );
}
