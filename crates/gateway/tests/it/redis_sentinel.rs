//! Sentinel: a primary, two replicas and three Sentinels, all private
//! processes; two gateway replicas find the primary through the Sentinels,
//! and find the new one by themselves after the old one is SIGKILLed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::support::redis::RedisServer;
use crate::support::webhook::event;
use crate::support::{TestGateway, next_event};
use api::v1::SubscribeRequest;
use events::{EventBus, RedisBus, RedisBusSettings};
use serde_json::json;

fn hangup(n: usize) -> serde_json::Value {
    event("call.hangup", json!({"call_control_id": format!("v3:{n}")}))
}

/// Every event id in the primary's stream, read page by page.
async fn ids_in_redis(url: String) -> HashSet<String> {
    let bus: Arc<dyn EventBus> = Arc::new(
        RedisBus::connect(RedisBusSettings {
            url,
            prefix: "conference-gateway".into(),
            history: 100_000,
            dedupe_window: Duration::from_secs(900),
            subscriber_queue: 16,
            connect_wait: Duration::from_secs(10),
            min_replicas_ack: 0,
            ack_timeout: Duration::from_secs(1),
            sentinel: None,
            cluster: false,
        })
        .await
        .expect("a bus on the new primary"),
    );
    let mut ids = HashSet::new();
    let mut page = bus.history().await.expect("the history reads");
    loop {
        ids.extend(page.events.iter().map(|event| event.id.clone()));
        let Some(next) = page.next_page() else { break };
        page = bus
            .replay(&next.to_string())
            .await
            .expect("the next page reads");
    }
    ids
}

/// What one failover did.
struct Failover {
    /// The ids answered 200 (first try or a retry).
    acknowledged: Vec<String>,
    /// What a subscriber resuming from before the failover got, per gateway
    /// replica: the events, or the status refusing the cursor.
    resumed: Vec<Result<Vec<String>, tonic::Status>>,
    /// The ids in the new primary's stream.
    kept: HashSet<String>,
}

/// Runs 2,000 webhooks across two gateway replicas through a SIGKILL of the
/// primary, retrying (as Telnyx does) what was answered 503.
async fn failover(min_replicas_ack: &str) -> Failover {
    let mut primary = RedisServer::start();
    let replicas = [RedisServer::start(), RedisServer::start()];
    for replica in &replicas {
        replica.replicate(&primary);
    }
    let sentinels: Vec<_> = (0..3)
        .map(|_| RedisServer::start_sentinel("gw", &primary))
        .collect();
    // Sentinels find each other and the replicas through the primary.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(sentinels[0]
        .command(&["SENTINEL", "ckquorum", "gw"])
        .contains("OK 3 usable")
        && sentinels[0]
            .command(&["SENTINEL", "replicas", "gw"])
            .matches("slave")
            .count()
            >= 2)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the Sentinels did not find each other and the replicas"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let nodes = sentinels
        .iter()
        .map(|sentinel| format!("127.0.0.1:{}", sentinel.port()))
        .collect::<Vec<_>>()
        .join(",");
    let args = [
        // Host and port come from the Sentinels; the URL gives the rest.
        "--redis-url",
        "redis://named-by-sentinel:6379/0",
        "--redis-sentinels",
        &nodes,
        "--redis-sentinel-master",
        "gw",
        "--redis-min-replicas-ack",
        min_replicas_ack,
        "--redis-ack-timeout-ms",
        "500",
    ];
    let gateways = [
        TestGateway::spawn_with(&args).await,
        TestGateway::spawn_with(&args).await,
    ];
    for gateway in &gateways {
        gateway.ready_becomes(200, Duration::from_secs(20)).await;
    }
    let mut live = gateways[0].subscribe(SubscribeRequest::default()).await;
    let start = event("call.initiated", json!({"call_control_id": "v3:start"}));
    gateways[0].post_event(&start).await.ok();
    let start_cursor = next_event(&mut live).await.cursor;

    const TOTAL: usize = 2_000;
    const KILL_AT: usize = 600;
    // Each event keeps its id across Telnyx's retries.
    let events: Vec<serde_json::Value> = (0..TOTAL).map(hangup).collect();
    let mut refused = Vec::new();
    let mut first_refusal = None;
    let started = std::time::Instant::now();
    for n in 0..TOTAL {
        if n == KILL_AT {
            primary.stop();
        }
        let posted = gateways[n % 2].post_event(&events[n]).await;
        if posted.status != 200 {
            assert_eq!(posted.status, 503, "{}", posted.body);
            first_refusal.get_or_insert(started.elapsed());
            refused.push(n);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let refused_count = refused.len();
    // Telnyx retries what was refused, until it is acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Some(&n) = refused.first() {
        let posted = gateways[n % 2].post_event(&events[n]).await;
        if posted.status == 200 {
            refused.remove(0);
        } else {
            assert!(
                tokio::time::Instant::now() < deadline,
                "webhooks still refused a minute after the failover: {}",
                posted.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "failover: {refused_count} of {TOTAL} webhooks answered 503 first, the first after {first_refusal:?}"
    );
    assert!(refused_count > 0, "the failover was noticed");

    let acknowledged: Vec<String> = events
        .iter()
        .map(|data| data["id"].as_str().unwrap().to_owned())
        .collect();
    let mut resumed = Vec::new();
    for gateway in &gateways {
        let mut stream = match gateway
            .events()
            .subscribe(SubscribeRequest {
                resume_after: start_cursor.clone(),
                ..Default::default()
            })
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => {
                resumed.push(Err(status));
                continue;
            }
        };
        let mut ids = Vec::new();
        let outcome = loop {
            match tokio::time::timeout(Duration::from_secs(1), stream.message()).await {
                Ok(Ok(Some(event))) => ids.push(event.id),
                Ok(Err(status)) if ids.is_empty() => break Err(status),
                _ => break Ok(ids),
            }
        };
        resumed.push(outcome);
    }
    let new_primary = replicas
        .iter()
        .find(|replica| replica.command(&["ROLE"]).contains("master"))
        .expect("a replica was promoted");
    let kept = ids_in_redis(new_primary.url()).await;
    drop(sentinels);
    Failover {
        acknowledged,
        resumed,
        kept,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sentinel_failover_loses_no_acknowledged_webhook() {
    let run = failover("1").await;
    let missing = run
        .acknowledged
        .iter()
        .filter(|id| !run.kept.contains(*id))
        .count();
    assert_eq!(missing, 0, "acknowledged means replicated");
    // Every event, acknowledged once, reaches a subscriber resuming on
    // either replica, once, in one order.
    let orders: Vec<Vec<String>> = run
        .resumed
        .into_iter()
        .map(|resumed| resumed.expect("cursors from before the failover stay valid"))
        .collect();
    assert_eq!(orders[0], orders[1], "one order on both replicas");
    assert_eq!(orders[0].len(), run.acknowledged.len());
    let unique: HashSet<_> = orders[0].iter().collect();
    let expected: HashSet<_> = run.acknowledged.iter().collect();
    assert_eq!(unique, expected, "each acknowledged event once");
}

/// Without replica acks a failover may lose what was acknowledged last; the
/// gateway never hides it. Measures the loss (printed, and in the README).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_replica_acks_a_failover_never_hides_a_loss() {
    let run = failover("0").await;
    let lost: Vec<_> = run
        .acknowledged
        .iter()
        .filter(|id| !run.kept.contains(*id))
        .collect();
    eprintln!(
        "MIN_REPLICAS_ACK=0: {} of {} acknowledged events lost in the failover",
        lost.len(),
        run.acknowledged.len()
    );
    for resumed in run.resumed {
        match resumed {
            // The primary changed without acks: a new epoch, old cursors refused.
            Err(status) => assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}"),
            Ok(ids) => {
                let got: HashSet<_> = ids.iter().collect();
                assert!(
                    lost.is_empty() && got.len() == run.acknowledged.len(),
                    "a resume across a loss must be refused, not served with a gap"
                );
            }
        }
    }
}

/// Sentinels that require a password (managed charts set them up so): with
/// `GATEWAY_REDIS_SENTINEL_PASSWORD` the gateway logs in, finds the primary
/// and accepts events; with a wrong one it stays unready, saying which
/// Sentinel refused it, and the password appears nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinels_that_require_a_password_are_logged_in_to() {
    let primary = RedisServer::start();
    let sentinel = RedisServer::start_sentinel_with_password("gw", &primary, "sentinel-secret");
    let node = format!("127.0.0.1:{}", sentinel.port());
    let with = |password: &'static str| {
        [
            "--redis-url",
            "redis://named-by-sentinel:6379/0",
            "--redis-sentinels",
            node.as_str(),
            "--redis-sentinel-master",
            "gw",
            "--redis-sentinel-password",
            password,
        ]
        .map(str::to_owned)
    };

    let args = with("sentinel-secret");
    let gateway = TestGateway::spawn_with(&args.each_ref().map(String::as_str)).await;
    gateway.ready_becomes(200, Duration::from_secs(20)).await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let posted = hangup(1);
    gateway.post_event(&posted).await.ok();
    assert_eq!(
        next_event(&mut stream).await.id,
        posted["id"].as_str().unwrap()
    );

    let args = with("not-the-secret");
    let refused = TestGateway::spawn_with(&args.each_ref().map(String::as_str)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = refused.http_get("/readyz").await;
        assert_eq!(
            status, 503,
            "a wrong Sentinel password is not ready: {body}"
        );
        if body.contains(&node) || tokio::time::Instant::now() >= deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        body.contains("Sentinel master \"gw\"") && body.contains(&node),
        "names the Sentinel that refused: {body}"
    );
    eprintln!("wrong Sentinel password: /readyz {body}");
    assert!(!body.contains("not-the-secret"), "{body}");
    assert_eq!(
        refused.post_event(&hangup(2)).await.status,
        503,
        "Telnyx retries while the primary is unknown"
    );
}
