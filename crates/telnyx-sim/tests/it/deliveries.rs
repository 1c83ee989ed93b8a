//! Webhook delivery records: a refused delivery is retried, recorded as
//! failed with every attempt, and listed with Telnyx's filters and paging.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use testkit::sim::Sandbox;

#[tokio::test]
async fn refused_deliveries_are_recorded_and_listed() {
    let sb = Sandbox::start().await;
    // Every attempt at the first event is refused; the second one is
    // delivered at its third attempt.
    sb.hooks.fail_next(4);
    let id = sb.dial(json!({})).await;
    let first = sb.hooks.wait_for(1).await;
    assert_eq!(first[0]["data"]["event_type"], "call.answered");
    sb.hooks.fail_next(2);
    sb.api
        .post(&format!("/calls/{id}/actions/hangup"), json!({}))
        .await;
    sb.wait_for("call.hangup", &id).await;
    // A record is kept once its delivery is over, just after the receiver
    // answered it.
    listed(&sb, "", 3).await;

    let failed = sb
        .api
        .get("/webhook_deliveries?filter[status][eq]=failed")
        .await;
    assert_eq!(failed["meta"]["total_results"], 1);
    let record = &failed["data"][0];
    assert_eq!(record["webhook"]["event_type"], "call.initiated");
    assert_eq!(record["webhook"]["payload"]["call_control_id"], id.as_str());
    let attempts = record["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4);
    for attempt in attempts {
        assert_eq!(attempt["status"], "failed");
        assert_eq!(attempt["errors"], json!([75499]));
        assert_eq!(attempt["http"]["response"]["status"], 500);
        assert_eq!(attempt["http"]["request"]["url"], sb.hooks.url());
    }
    let started: Vec<&str> = attempts
        .iter()
        .map(|a| a["started_at"].as_str().unwrap())
        .collect();
    assert!(
        started.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {started:?}"
    );
    assert_eq!(record["started_at"].as_str(), started.last().copied());

    let one = sb
        .api
        .get(&format!(
            "/webhook_deliveries/{}",
            record["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(&one["data"], record);

    let hangup = sb
        .api
        .get("/webhook_deliveries?filter[event_type]=call.hangup,call.bridged")
        .await;
    assert_eq!(hangup["meta"]["total_results"], 1);
    let statuses: Vec<&str> = hangup["data"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["delivered", "failed", "failed"]);
    assert_eq!(hangup["data"][0]["status"], "delivered");

    let all = sb.api.get("/webhook_deliveries?page[size]=2").await;
    assert_eq!(all["meta"]["total_results"], 3);
    assert_eq!(all["meta"]["total_pages"], 2);
    let newest: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["webhook"]["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(newest, ["call.hangup", "call.answered"]);
    let contains = format!("filter[webhook][contains]={id}");
    for (query, total) in [
        (contains.as_str(), 3),
        ("filter[attempts][contains]=75499", 2),
        ("filter[started_at][gte]=2999-01-01T00:00:00Z", 0),
        ("filter[finished_at][lte]=2999-01-01T00:00:00Z", 3),
        (
            "filter[status][eq]=delivered&filter[event_type]=call.answered",
            1,
        ),
    ] {
        assert_eq!(
            listed(&sb, query, 0).await["meta"]["total_results"],
            total,
            "{query}"
        );
    }

    let (status, error) = sb
        .api
        .fails(
            Method::GET,
            "/webhook_deliveries?filter[status][eq]=lost",
            Value::Null,
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("10032")));
    let (status, _) = sb
        .api
        .fails(
            Method::GET,
            "/webhook_deliveries/0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
            Value::Null,
        )
        .await;
    assert_eq!(status, 404);
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_closed_retry_window_gives_a_delivery_up_at_once() {
    let sb = Sandbox::start_built(|b| b.webhook_retry_window(Duration::ZERO)).await;
    sb.hooks.fail_next(1);
    let id = sb.dial(json!({})).await;
    sb.wait_for("call.answered", &id).await;
    assert_eq!(
        sb.hooks.attempts(),
        2,
        "the refused event was not tried again"
    );
    let failed = sb
        .api
        .get("/webhook_deliveries?filter[status][eq]=failed")
        .await;
    assert_eq!(failed["data"][0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(
        failed["data"][0]["webhook"]["payload"]["call_control_id"],
        id.as_str()
    );
    sb.hooks.assert_all_valid();
}

/// `GET /webhook_deliveries?{query}`, once it lists at least `n` records
/// (polled for up to 5 s).
async fn listed(sb: &Sandbox, query: &str, n: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let page = sb.api.get(&format!("/webhook_deliveries?{query}")).await;
        if page["meta"]["total_results"].as_u64() >= Some(n) {
            return page;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {page}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
