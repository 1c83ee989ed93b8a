//! The account's budget for every call but Dial: when Telnyx answers with
//! `x-ratelimit-remaining: 0`, the next calls wait for the reset it named
//! (within their deadline) instead of meeting Telnyx's 429, on this replica
//! and, through a private Redis, on the others.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{TestGateway, json_response, redis::RedisServer};
use api::v1::GetConferenceRequest;
use serde_json::json;
use tonic::{Code, Request};
use tonic_types::StatusExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// Telnyx's side: when each request arrived. The first answer says the
/// account has no requests left for 2 s; the others carry no limit headers.
#[derive(Clone, Default)]
struct Exhausting(Arc<Mutex<Vec<Instant>>>);

impl wiremock::Respond for Exhausting {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let mut arrivals = self.0.lock().unwrap();
        arrivals.push(Instant::now());
        let answer = json_response(
            200,
            json!({"data": {"id": "c1", "name": "standup", "record_type": "conference"}}),
        );
        if arrivals.len() == 1 {
            answer
                .insert_header("x-ratelimit-limit", "100")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "2")
        } else {
            answer
        }
    }
}

impl Exhausting {
    fn arrivals(&self) -> Vec<Instant> {
        self.0.lock().unwrap().clone()
    }

    async fn mount(&self, server: &wiremock::MockServer) {
        Mock::given(method("GET"))
            .and(path("/v2/conferences/c1"))
            .respond_with(self.clone())
            .mount(server)
            .await;
    }
}

fn get(timeout: Option<Duration>) -> Request<GetConferenceRequest> {
    let mut request = Request::new(GetConferenceRequest {
        conference_id: "c1".into(),
        ..Default::default()
    });
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    request
}

/// Telnyx's own clock: the next call reached it no sooner than the reset.
fn waited_for_the_reset(arrivals: &[Instant]) {
    assert_eq!(arrivals.len(), 2, "{arrivals:?}");
    let gap = arrivals[1].duration_since(arrivals[0]);
    assert!(gap >= Duration::from_millis(1_900), "sent after {gap:?}");
    assert!(gap < Duration::from_secs(4), "held too long: {gap:?}");
}

#[tokio::test]
async fn calls_wait_for_telnyxs_reset_and_short_deadlines_are_refused() {
    let gateway = TestGateway::spawn().await;
    let telnyx = Exhausting::default();
    telnyx.mount(&gateway.telnyx).await;
    let mut client = gateway.conferences();
    client.get_conference(get(None)).await.unwrap();

    let refused = client
        .get_conference(get(Some(Duration::from_millis(500))))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let details = refused.get_error_details();
    let delay = details.retry_info().unwrap().retry_delay.unwrap();
    assert!(
        delay > Duration::from_millis(1_000) && delay <= Duration::from_secs(2),
        "{delay:?}"
    );
    assert_eq!(details.error_info().unwrap().reason, "ACCOUNT_TELNYX");
    assert_eq!(
        telnyx.arrivals().len(),
        1,
        "the refused call never reached Telnyx"
    );

    client.get_conference(get(None)).await.unwrap();
    waited_for_the_reset(&telnyx.arrivals());
    let metrics = gateway.http_get("/metrics").await.1;
    assert!(
        metrics.contains(r#"reason="account_telnyx""#),
        "the refusal is counted: {metrics}"
    );
}

#[tokio::test]
async fn a_429_naming_only_its_reset_is_retried_at_the_reset() {
    let gateway = TestGateway::spawn().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&arrivals);
    Mock::given(method("GET"))
        .and(path("/v2/conferences/c1"))
        .respond_with(move |_: &wiremock::Request| {
            let mut seen = seen.lock().unwrap();
            seen.push(Instant::now());
            if seen.len() == 1 {
                ResponseTemplate::new(429).insert_header("x-ratelimit-reset", "1")
            } else {
                json_response(
                    200,
                    json!({"data": {"id": "c1", "record_type": "conference"}}),
                )
            }
        })
        .mount(&gateway.telnyx)
        .await;
    gateway
        .conferences()
        .get_conference(get(None))
        .await
        .unwrap();
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 2, "one 429, one retry");
    // The client's own backoff would retry within 0.5 s.
    let gap = arrivals[1].duration_since(arrivals[0]);
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

/// How many times Redis was asked for the account's reset.
fn reset_reads(redis: &RedisServer) -> u64 {
    let stats = redis.command(&["INFO", "commandstats"]);
    stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_pttl:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

#[tokio::test]
async fn another_replica_waits_once_the_first_saw_the_account_exhausted() {
    let redis = RedisServer::start();
    let url = redis.url();
    let first = TestGateway::spawn_with(&["--redis-url", &url]).await;
    let shared_telnyx = format!("{}/v2", first.telnyx.uri());
    let second =
        TestGateway::spawn_with(&["--redis-url", &url, "--telnyx-base-url", &shared_telnyx]).await;
    // While nothing is exhausted, a replica reads the shared reset at most
    // once per 250 ms, not once per call.
    let quiet = json_response(
        200,
        json!({"data": {"id": "c2", "name": "quiet", "record_type": "conference"}}),
    );
    Mock::given(method("GET"))
        .and(path("/v2/conferences/c2"))
        .respond_with(quiet)
        .mount(&first.telnyx)
        .await;
    let reads_before = reset_reads(&redis);
    let started = Instant::now();
    let mut client = second.conferences();
    for _ in 0..40 {
        let request = Request::new(GetConferenceRequest {
            conference_id: "c2".into(),
            ..Default::default()
        });
        client.get_conference(request).await.unwrap();
    }
    let reads = reset_reads(&redis) - reads_before;
    let most = started.elapsed().as_millis() as u64 / 250 + 1;
    assert!(reads <= most, "{reads} reads for 40 calls (at most {most})");

    let telnyx = Exhausting::default();
    telnyx.mount(&first.telnyx).await;
    first.conferences().get_conference(get(None)).await.unwrap();
    // Past the second replica's 250 ms of trusting its last read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    second
        .conferences()
        .get_conference(get(None))
        .await
        .unwrap();
    waited_for_the_reset(&telnyx.arrivals());
    // The shared reset is gone once it passed.
    let left = redis.command(&["PTTL", "conference-gateway:limits:telnyx-reset"]);
    assert_eq!(left.trim(), ":-2", "{left}");
}
