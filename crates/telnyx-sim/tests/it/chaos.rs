//! Misbehaviour on purpose: its shares are met, it replays under a seed, and
//! a refused REST call never changed anything.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use telnyx_sim::Chaos;

use testkit::sim::{API_KEY, Sandbox};

/// Dials `n` calls one after the other and returns every delivery they
/// caused.
async fn traffic(sb: &Sandbox, n: usize) -> Vec<Value> {
    for _ in 0..n {
        sb.answered_call().await;
    }
    sb.settle().await
}

/// Every delivery of an event carries the same event.
fn assert_duplicates_identical(deliveries: &[Value]) {
    let mut first = HashMap::new();
    for delivery in deliveries {
        let id = delivery["data"]["id"].as_str().unwrap();
        let event = first.entry(id).or_insert(&delivery["data"]);
        assert_eq!(*event, &delivery["data"], "a duplicate is the same event");
    }
}

#[tokio::test]
async fn webhook_duplicates_meet_their_share_and_replay_under_a_seed() {
    let chaos = Chaos {
        seed: 42,
        duplicate_webhooks: 0.3,
        ..Chaos::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sb = Sandbox::start_with(chaos.clone()).await;
        let deliveries = traffic(&sb, 30).await;
        sb.hooks.assert_all_valid();
        let mut unique = deliveries.clone();
        unique.dedup_by(|later, earlier| later["data"]["id"] == earlier["data"]["id"]);
        let duplicated: Vec<usize> = unique
            .iter()
            .enumerate()
            .filter(|(_, event)| {
                deliveries
                    .iter()
                    .filter(|d| d["data"]["id"] == event["data"]["id"])
                    .count()
                    > 1
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(unique.len(), 60, "every event arrives");
        assert_eq!(deliveries.len(), 60 + duplicated.len());
        let share = duplicated.len() as f64 / 60.0;
        assert!((0.15..=0.45).contains(&share), "duplicated {share}");
        assert_duplicates_identical(&deliveries);
        runs.push(duplicated);
    }
    assert_eq!(runs[0], runs[1], "the same seed duplicates the same events");
}

#[tokio::test]
async fn webhooks_can_be_delayed_and_reordered() {
    let chaos = Chaos {
        seed: 3,
        reorder_webhooks: 0.3,
        max_webhook_delay: Duration::from_millis(15),
        ..Chaos::default()
    };
    let sb = Sandbox::start_with(chaos).await;
    for _ in 0..10 {
        sb.dial(json!({})).await;
    }
    let deliveries = sb.hooks.wait_for(20).await;
    let emitted = sb
        .api
        .get("/call_events?filter[type]=webhook&page[size]=250")
        .await;
    let emitted: Vec<&str> = emitted["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["metadata"]["event_id"].as_str().unwrap())
        .collect();
    let arrived: Vec<&str> = deliveries
        .iter()
        .map(|d| d["data"]["id"].as_str().unwrap())
        .collect();
    let mut sorted_arrived = arrived.clone();
    sorted_arrived.sort_unstable();
    let mut sorted_emitted = emitted[..20].to_vec();
    sorted_emitted.sort_unstable();
    assert_eq!(sorted_arrived, sorted_emitted, "nothing is lost");
    assert_ne!(arrived, emitted[..20], "some events overtake others");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let chaos = Chaos {
        seed: 1,
        rate_limited_requests: 1.0,
        retry_after: Duration::from_millis(1500),
        ..Chaos::default()
    };
    let sb = Sandbox::start_with(chaos).await;
    let (status, headers, body) = sb
        .api
        .raw(Method::GET, "/queues", None, Some(API_KEY))
        .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "2");
    assert_eq!(headers["retry-after-ms"], "1500");
    assert_eq!(body["errors"][0]["code"], "10011");
}

/// Half the calls are refused (429 or 5xx); retrying each until it succeeds
/// creates every queue exactly once and dials every call exactly once.
#[tokio::test]
async fn refused_calls_change_nothing_so_retries_are_safe() {
    let chaos = Chaos {
        seed: 9,
        rate_limited_requests: 0.25,
        failed_requests: 0.25,
        retry_after: Duration::ZERO,
        ..Chaos::default()
    };
    let sb = Sandbox::start_with(chaos).await;
    let mut refused = HashMap::<u16, usize>::new();
    for n in 0..20 {
        let queue = json!({"queue_name": format!("q{n}")});
        persist(&sb, &mut refused, Method::POST, "/queues", queue).await;
    }
    let mut calls = std::collections::HashSet::new();
    for n in 0..20 {
        let dial = json!({"connection_id": sb.sim.connection_id(), "to": "+15551230001", "from": "+15559870000", "command_id": format!("dial-{n}")});
        let answer = persist(&sb, &mut refused, Method::POST, "/calls", dial).await;
        calls.insert(answer["data"]["call_control_id"].clone());
    }
    assert_eq!(calls.len(), 20);
    assert!(refused.values().sum::<usize>() >= 20, "{refused:?}");
    assert!(
        refused.len() == 3,
        "429, 500 and 503 all happen: {refused:?}"
    );
    let queues = persist(
        &sb,
        &mut refused,
        Method::GET,
        "/queues?page[size]=250",
        json!({}),
    )
    .await;
    assert_eq!(queues["meta"]["total_results"], 20);
    let deliveries = sb
        .hooks
        .wait_until(|d| {
            d.iter()
                .filter(|d| d["data"]["event_type"] == "call.answered")
                .count()
                == 20
        })
        .await;
    let initiated = deliveries
        .iter()
        .filter(|d| d["data"]["event_type"] == "call.initiated")
        .count();
    assert_eq!(initiated, 20, "each dial acted once");
    sb.hooks.assert_all_valid();
}

/// Sends a request until it is accepted, counting refusals by status.
async fn persist(
    sb: &Sandbox,
    refused: &mut HashMap<u16, usize>,
    method: Method,
    path: &str,
    body: Value,
) -> Value {
    let bytes = serde_json::to_vec(&body).unwrap();
    loop {
        let (status, _, answer) = sb
            .api
            .raw(method.clone(), path, Some(&bytes), Some(API_KEY))
            .await;
        if status < 300 {
            return answer;
        }
        assert!(matches!(status, 429 | 500 | 503), "{status}: {answer}");
        *refused.entry(status).or_default() += 1;
    }
}
