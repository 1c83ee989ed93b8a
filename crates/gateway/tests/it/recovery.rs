//! Recovery of the events Telnyx gave up on, against a mock Telnyx: the exact
//! `GET /webhook_deliveries` requests (filters, pages, headers), the events
//! published oldest first, once each, flagged `recovered`, and one replica
//! asking for a deployment sharing Redis.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{
    TestGateway, assert_query, json_response, next_event, redis::RedisServer, telnyx,
};
use api::v1::SubscribeRequest;
use serde_json::{Value, json};

/// A failed delivery record whose `webhook` is the event `id`.
fn failed(id: &str) -> Value {
    json!({
        "record_type": "webhook_delivery",
        "id": format!("delivery-{id}"),
        "user_id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
        "status": "failed",
        "started_at": "2024-05-01T12:00:00.000Z",
        "finished_at": "2024-05-01T12:01:00.000Z",
        "webhook": {
            "record_type": "event",
            "id": id,
            "event_type": "call.hangup",
            "occurred_at": "2024-05-01T12:00:00.000Z",
            "payload": {"call_control_id": format!("v3:{id}")},
        },
        "attempts": [],
    })
}

fn page(number: u32, total: u32, records: Vec<Value>) -> Value {
    json!({
        "data": records,
        "meta": {"page_number": number, "page_size": 250, "total_pages": total, "total_results": 4},
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` back to whole seconds since the epoch.
fn unix_secs(text: &str) -> i64 {
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19)
}

#[tokio::test]
async fn recovers_failed_deliveries_oldest_first_once_each_flagged_recovered() {
    let gateway =
        TestGateway::spawn_with(&["--recovery", "true", "--recovery-lookback-secs", "3600"]).await;
    // Newest first, as Telnyx lists: page 1 has the newest; e2 failed twice.
    telnyx("GET", "/webhook_deliveries")
        .and(wiremock::matchers::query_param("page[number]", "1"))
        .respond_with(json_response(
            200,
            page(1, 2, vec![failed("e4"), failed("e3"), failed("e2")]),
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    telnyx("GET", "/webhook_deliveries")
        .and(wiremock::matchers::query_param("page[number]", "2"))
        .respond_with(json_response(
            200,
            page(2, 2, vec![failed("e2"), failed("e1")]),
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;
    // With the in-process bus, recovery at start waits for a subscriber.
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let event = next_event(&mut stream).await;
        assert!(event.recovered, "{event:?}");
        assert_eq!(event.event_type, "call.hangup");
        ids.push(event.id);
    }
    assert_eq!(ids, ["e1", "e2", "e3", "e4"], "oldest first, each once");
    crate::support::assert_quiet(&mut stream).await;

    let requests = gateway.received().await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    let (first, second) = (&requests[0], &requests[1]);
    let pairs = |request: &wiremock::Request| -> Vec<(String, String)> {
        request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let bound = |name: &str| {
        pairs(first)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let (since, until) = (
        bound("filter[finished_at][gte]"),
        bound("filter[finished_at][lte]"),
    );
    // A fresh in-process bus has accepted nothing: the whole lookback.
    assert_eq!(
        unix_secs(&until) - unix_secs(&since),
        3600,
        "{since} .. {until}"
    );
    assert!(since.ends_with('Z') && since.len() == 24, "{since}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - unix_secs(&until)).abs() < 30,
        "the window ends now: {until}"
    );
    let expected = |number: &'static str| {
        vec![
            ("filter[status][eq]", "failed".to_owned()),
            ("filter[finished_at][gte]", since.clone()),
            ("filter[finished_at][lte]", until.clone()),
            ("page[number]", number.to_owned()),
            ("page[size]", "250".to_owned()),
        ]
    };
    for (request, number) in [(first, "1"), (second, "2")] {
        assert_eq!(request.method.as_str(), "GET");
        assert_eq!(request.url.path(), "/v2/webhook_deliveries");
        let want = expected(number);
        let want: Vec<(&str, &str)> = want.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_query(request, &want);
        assert!(request.body.is_empty());
    }
    let metrics = metric_reaches(&gateway, "gateway_events_recovered_total 4").await;
    assert!(
        metrics.contains(
            r#"gateway_telnyx_requests_total{operation="RecoverWebhookDeliveries",status="ok"} 2"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn replicas_sharing_redis_ask_telnyx_once() {
    let redis = RedisServer::start();
    let telnyx_mock = wiremock::MockServer::start().await;
    // Slow enough that the second replica starts while the first holds the lease.
    telnyx("GET", "/webhook_deliveries")
        .respond_with(
            json_response(200, page(1, 1, vec![failed("r2"), failed("r1")]))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&telnyx_mock)
        .await;
    let base = format!("{}/v2", telnyx_mock.uri());
    let url = redis.url();
    let args = [
        "--redis-url",
        url.as_str(),
        "--telnyx-base-url",
        base.as_str(),
        "--recovery",
        "true",
    ];
    let a = TestGateway::spawn_with(&args).await;
    let b = TestGateway::spawn_with(&args).await;
    let mut stream = b.subscribe(SubscribeRequest::default()).await;
    let first = next_event(&mut stream).await;
    let second = next_event(&mut stream).await;
    assert_eq!((first.id.as_str(), second.id.as_str()), ("r1", "r2"));
    assert!(first.recovered && second.recovered);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = telnyx_mock.received_requests().await.unwrap_or_default();
    assert_eq!(asked.len(), 1, "one replica asked for both: {asked:?}");
    crate::support::assert_quiet(&mut stream).await;
    drop(a);
}

/// A replica that died holding the lease (it never gave it back) does not
/// leave the deployment without recovery: the next replica waits for the
/// lease to expire, then recovers.
#[tokio::test]
async fn a_lease_left_by_a_dead_replica_is_waited_out() {
    use events::{EventBus, RedisBus, RedisBusSettings};
    let redis = RedisServer::start();
    let ghost = RedisBus::connect(RedisBusSettings {
        url: redis.url(),
        prefix: "conference-gateway".to_owned(),
        history: 100,
        dedupe_window: Duration::from_secs(900),
        subscriber_queue: 16,
        connect_wait: Duration::from_secs(10),
        min_replicas_ack: 0,
        ack_timeout: Duration::from_secs(1),
        sentinel: None,
        cluster: false,
    })
    .await
    .unwrap();
    assert!(
        ghost
            .lease("recovery", "a-replica-that-died", Duration::from_secs(3))
            .await
            .unwrap()
    );
    drop(ghost);
    let telnyx_mock = wiremock::MockServer::start().await;
    telnyx("GET", "/webhook_deliveries")
        .respond_with(json_response(200, page(1, 1, vec![failed("d1")])))
        .mount(&telnyx_mock)
        .await;
    let base = format!("{}/v2", telnyx_mock.uri());
    let url = redis.url();
    let gateway = TestGateway::spawn_with(&[
        "--redis-url",
        url.as_str(),
        "--telnyx-base-url",
        base.as_str(),
        "--recovery",
        "true",
    ])
    .await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let event = tokio::time::timeout(Duration::from_secs(15), stream.message())
        .await
        .expect("recovered once the dead replica's lease expired")
        .unwrap()
        .expect("the stream stays open");
    assert_eq!(event.id, "d1");
    assert!(event.recovered);
    let asked = telnyx_mock.received_requests().await.unwrap_or_default();
    assert_eq!(asked.len(), 1, "{asked:?}");
}

/// The simulator's failed deliveries: the ids of their events.
async fn failed_ids(base_url: &str) -> Vec<String> {
    let answer: Value = reqwest::Client::new()
        .get(format!("{base_url}/webhook_deliveries"))
        .bearer_auth(crate::support::TEST_API_KEY)
        .query(&[("filter[status][eq]", "failed"), ("page[size]", "250")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = answer["data"].as_array().unwrap();
    for record in records {
        // What recovery reads of a record, as Telnyx lists it.
        assert_eq!(record["status"], "failed");
        assert!(
            record["finished_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        assert!(record["webhook"]["event_type"].is_string(), "{record}");
    }
    records
        .iter()
        .map(|record| record["webhook"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Telnyx (the simulator, retrying each webhook for 2 s) sends events while
/// the only gateway is stopped for longer than that; the restarted gateway
/// recovers them from the failed deliveries, and the subscriber gets each
/// once, flagged recovered: resuming from its last cursor with Redis, live
/// after `OUT_OF_RANGE` with the in-process bus (its history died with it).
async fn events_sent_while_every_gateway_was_down_are_recovered(redis: Option<&RedisServer>) {
    use telnyx_sim::{Simulator, Timing};
    use testkit::sim::{CALLER, Caller, fast};

    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_addr = listener.local_addr().unwrap();
    let base_url = format!("http://{sim_addr}/v2");
    let http_addr = format!("127.0.0.1:{http_port}");
    let url = redis.map(RedisServer::url);
    let mut args = vec![
        "--telnyx-base-url",
        base_url.as_str(),
        "--http-addr",
        http_addr.as_str(),
        "--recovery",
        "true",
    ];
    if let Some(url) = &url {
        args.extend(["--redis-url", url.as_str()]);
    }
    let gateway = TestGateway::spawn_with(&args).await;
    let _sim = Simulator::builder()
        .webhook_url(format!("http://{http_addr}/webhooks/telnyx"))
        .signer(crate::support::webhook::test_key())
        .api_key(crate::support::TEST_API_KEY)
        // Retried until the window closes, not until the attempts run out.
        .timing(Timing {
            webhook_attempts: 1_000,
            webhook_backoff: Duration::from_millis(100),
            ..fast()
        })
        .webhook_retry_window(Duration::from_secs(2))
        .serve(listener)
        .expect("the simulator serves");
    let caller = Caller::at(sim_addr);
    const LINE: &str = "+15551230100";

    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    caller.call_in(CALLER, LINE).await;
    let before = next_event(&mut stream).await;
    assert!(!before.recovered);
    drop(stream);
    gateway.stop().await;

    for _ in 0..3 {
        caller.call_in(CALLER, LINE).await;
    }
    // Each delivery is retried for 2 s, one after the other, then recorded failed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let failed = failed_ids(&base_url).await;
        if failed.len() >= 3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let settled = failed_ids(&base_url).await;
            if settled == failed {
                break failed;
            }
            continue;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {failed:?} failed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        !failed.contains(&before.id),
        "the first event was delivered"
    );

    let gateway = TestGateway::spawn_with(&args).await;
    let resumed = SubscribeRequest {
        resume_after: before.cursor.clone(),
        ..SubscribeRequest::default()
    };
    let mut stream = if redis.is_some() {
        gateway.subscribe(resumed).await
    } else {
        let status = gateway.events().subscribe(resumed).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
        gateway.subscribe(SubscribeRequest::default()).await
    };
    let mut got = Vec::new();
    for _ in 0..failed.len() {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.message())
            .await
            .expect("a recovered event within 20 s")
            .unwrap()
            .expect("the stream stays open");
        assert!(event.recovered, "{event:?}");
        got.push(event.id);
    }
    crate::support::assert_quiet(&mut stream).await;
    let mut want = failed.clone();
    want.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, want, "each failed event once");
    // Telnyx lists newest first; recovery publishes oldest first.
    let mut oldest_first = failed;
    oldest_first.reverse();
    assert_eq!(got, oldest_first);
    gateway.stop().await;
}

#[tokio::test]
async fn events_sent_while_the_gateways_were_down_are_recovered_with_redis() {
    let redis = RedisServer::start();
    events_sent_while_every_gateway_was_down_are_recovered(Some(&redis)).await;
}

#[tokio::test]
async fn events_sent_while_the_gateway_was_down_are_recovered_in_process() {
    events_sent_while_every_gateway_was_down_are_recovered(None).await;
}

/// Waits up to 10 s for `/metrics` to show `sample` (a counter is bumped
/// just after the event it counts went out); the whole text.
async fn metric_reaches(gateway: &TestGateway, sample: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = gateway.http_get("/metrics").await;
        if metrics.contains(sample) {
            return metrics;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {sample}: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn recovers_again_once_redis_is_back_after_an_outage() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    // Mounted before the gateway starts, so its first request finds it.
    let telnyx_mock = wiremock::MockServer::start().await;
    telnyx("GET", "/webhook_deliveries")
        .respond_with(json_response(200, page(1, 1, vec![failed("o1")])))
        .mount(&telnyx_mock)
        .await;
    let base = format!("{}/v2", telnyx_mock.uri());
    let gateway = TestGateway::spawn_with(&[
        "--redis-url",
        &url,
        "--telnyx-base-url",
        &base,
        "--recovery",
        "true",
    ])
    .await;
    let asked = || async {
        telnyx_mock
            .received_requests()
            .await
            .unwrap_or_default()
            .len()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while asked().await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no recovery at start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(asked().await, 1, "once at start");
    redis.stop();
    gateway.ready_becomes(503, Duration::from_secs(15)).await;
    redis.restart();
    gateway.ready_becomes(200, Duration::from_secs(15)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while asked().await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no recovery after the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let requests = telnyx_mock.received_requests().await.unwrap_or_default();
    let since = |request: &wiremock::Request| {
        request
            .url
            .query_pairs()
            .find(|(k, _)| k == "filter[finished_at][gte]")
            .map(|(_, v)| unix_secs(&v))
            .unwrap()
    };
    let until = |request: &wiremock::Request| {
        request
            .url
            .query_pairs()
            .find(|(k, _)| k == "filter[finished_at][lte]")
            .map(|(_, v)| unix_secs(&v))
            .unwrap()
    };
    // Both times Redis held no event (fresh, then restarted without
    // persistence): the whole lookback.
    assert_eq!(until(&requests[0]) - since(&requests[0]), 86_400);
    assert_eq!(until(&requests[1]) - since(&requests[1]), 86_400);
    // The event the restart lost is in the new history again (once the
    // answer to the second request is read).
    metric_reaches(&gateway, "gateway_events_recovered_total 2").await;
}
