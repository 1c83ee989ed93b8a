//! A simulator with fast timing, a verifying webhook receiver, and a REST
//! client that checks every request it sends and every success it gets
//! against Telnyx's spec.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use telnyx_sim::{Chaos, RunningSimulator, Simulator, SimulatorBuilder, Timing};

use crate::receiver::{Receiver, event_types};
use crate::spec;

/// The gateway's test key, so a gateway under test can use the same simulator.
pub use crate::TEST_API_KEY as API_KEY;
pub const CALLEE: &str = "+15551230001";
pub const CALLER: &str = "+15559870000";

/// Fast enough for tests, slow enough that "a moment later" is observable.
pub fn fast() -> Timing {
    Timing {
        answer_delay: Duration::from_millis(20),
        // Long enough that a test's next request lands while media plays.
        media_duration: Duration::from_millis(300),
        no_answer_timeout: Duration::from_millis(100),
        webhook_attempts: 4,
        webhook_backoff: Duration::from_millis(20),
        webhook_retry_window: Duration::from_secs(60),
        webhook_timeout: Duration::from_secs(2),
        reorder_window: Duration::from_millis(50),
    }
}

pub struct Sandbox {
    pub sim: RunningSimulator,
    pub hooks: Receiver,
    pub api: Api,
    /// The people at the far end of calls (`/_sim/`).
    pub caller: Caller,
}

impl Sandbox {
    pub async fn start() -> Self {
        Self::start_with(Chaos::default()).await
    }

    pub async fn start_with(chaos: Chaos) -> Self {
        Self::start_built(|builder| builder.chaos(chaos)).await
    }

    /// A sandbox whose simulator is built with `settings` applied last.
    pub async fn start_built(settings: impl FnOnce(SimulatorBuilder) -> SimulatorBuilder) -> Self {
        let hooks = Receiver::start().await;
        let builder = Simulator::builder()
            .webhook_url(hooks.url())
            .api_key(API_KEY)
            .timing(fast());
        let sim = settings(builder)
            .bind("127.0.0.1:0")
            .await
            .expect("simulator starts");
        hooks.trust(&sim.public_key_base64());
        let http = reqwest::Client::new();
        let api = Api {
            base: sim.base_url(),
            http: http.clone(),
        };
        let caller = Caller {
            base: format!("http://{}/_sim", sim.addr()),
            http,
        };
        Sandbox {
            sim,
            hooks,
            api,
            caller,
        }
    }

    /// Waits for an event of `event_type` about the call `id` and returns it.
    pub async fn wait_for(&self, event_type: &str, id: &str) -> Value {
        let matches =
            |all: &[Value], d: &Value| d["data"]["event_type"] == event_type && about(all, d, id);
        let deliveries = self
            .hooks
            .wait_until(|all| all.iter().any(|d| matches(all, d)))
            .await;
        deliveries
            .iter()
            .find(|d| matches(&deliveries, d))
            .cloned()
            .unwrap()
    }

    /// The deliveries about the call `id` so far, in arrival order.
    pub fn events_of(&self, id: &str) -> Vec<Value> {
        of_call(&self.hooks.deliveries(), id)
    }

    /// Someone calls in and the call is answered; returns its call control id.
    pub async fn answered_inbound(&self) -> String {
        let id = self.caller.call_in(CALLER, CALLEE).await;
        self.hooks.wait_for_event("call.initiated", &id).await;
        self.api
            .post(&format!("/calls/{id}/actions/answer"), json!({}))
            .await;
        self.hooks.wait_for_event("call.answered", &id).await;
        id
    }

    /// Dials out and waits for `call.answered`; returns the call control id.
    pub async fn answered_call(&self) -> String {
        let id = self.dial(json!({})).await;
        self.hooks.wait_for_event("call.answered", &id).await;
        id
    }

    /// Dials with `extra` fields merged into a realistic body.
    pub async fn dial(&self, extra: Value) -> String {
        let mut body = json!({
            "connection_id": self.sim.connection_id(),
            "to": CALLEE,
            "from": CALLER,
            "client_state": "ZGlhbGxlZA==",
        });
        merge(&mut body, extra);
        let answer = self.api.post("/calls", body).await;
        answer["data"]["call_control_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a conference with `creator`; returns its id.
    pub async fn conference(&self, creator: &str, name: &str) -> String {
        let body = json!({"call_control_id": creator, "name": name});
        let answer = self.api.post("/conferences", body).await;
        answer["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Dials one more call and waits for its `call.initiated`: every event
    /// caused before it has been delivered by then (deliveries are ordered).
    pub async fn settle(&self) -> Vec<Value> {
        let id = self.dial(json!({"client_state": "c2VudGluZWw="})).await;
        self.hooks.wait_for_event("call.initiated", &id).await;
        let deliveries = self.hooks.deliveries();
        let end = deliveries
            .iter()
            .position(|d| d["data"]["payload"]["call_control_id"] == id.as_str())
            .unwrap();
        deliveries[..end].to_vec()
    }
}

/// The simulator's caller side (`/_sim/`): no API key, Telnyx's error shape.
pub struct Caller {
    base: String,
    http: reqwest::Client,
}

impl Caller {
    /// The caller side of the simulator listening at `addr`, for tests that
    /// wire a simulator of their own (to a gateway, say).
    pub fn at(addr: std::net::SocketAddr) -> Self {
        Caller {
            base: format!("http://{addr}/_sim"),
            http: reqwest::Client::new(),
        }
    }

    /// Posts `body` to `/_sim{path}`; returns the status and the answer.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("the simulator answers");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.expect("the simulator answers JSON"),
        )
    }

    /// A request that must succeed.
    async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "POST /_sim{path}: {answer:#}");
        answer
    }

    /// `from` calls `to` on the simulator's own application; returns the
    /// call control id.
    pub async fn call_in(&self, from: &str, to: &str) -> String {
        let answer = self.ok("/calls", json!({"from": from, "to": to})).await;
        answer["call_control_id"].as_str().unwrap().to_owned()
    }

    pub async fn press(&self, id: &str, digits: &str) {
        self.ok(&format!("/calls/{id}/dtmf"), json!({"digits": digits}))
            .await;
    }

    pub async fn say(&self, id: &str, text: &str) {
        self.ok(&format!("/calls/{id}/speech"), json!({"text": text}))
            .await;
    }

    pub async fn hang_up(&self, id: &str) {
        self.ok(&format!("/calls/{id}/hangup"), json!({})).await;
    }
}

/// A REST client for the simulator.
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// Sends a request as is: no checks. For misuse.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        key: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_vec());
        }
        let response = request.send().await.expect("the simulator answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("the simulator answers JSON")
        };
        (status, headers, body)
    }

    /// Sends a conforming request and returns the status and body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        let sent = spec::Sent {
            method: method.as_str(),
            path: path_only,
            query: query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect(),
            body: body.clone(),
        };
        if let Err(problem) = spec::check(&sent) {
            panic!("the test sent a request outside the spec: {problem}");
        }
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        let (status, _, answer) = self
            .raw(method.clone(), path, bytes.as_deref(), Some(API_KEY))
            .await;
        if let Err(problem) = spec::check_response(method.as_str(), path_only, status, &answer) {
            panic!("the simulator answered outside the spec: {problem}\n{answer:#}");
        }
        (status, answer)
    }

    /// A request that must succeed.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {answer:#}"
        );
        answer
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.ok(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Value {
        self.ok(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Value {
        self.ok(Method::DELETE, path, None).await
    }

    /// A request that must fail; returns the status and the first error.
    /// A `null` body sends none.
    pub async fn fails(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let bytes = (!body.is_null()).then(|| serde_json::to_vec(&body).unwrap());
        let (status, _, answer) = self
            .raw(method.clone(), path, bytes.as_deref(), Some(API_KEY))
            .await;
        assert!(
            status >= 400,
            "{method} {path} should fail, answered {status}: {answer:#}"
        );
        let error = answer["errors"][0].clone();
        assert!(
            error["code"].is_string() && error["title"].is_string(),
            "{answer:#}"
        );
        (status, error)
    }
}

/// The deliveries about the call `id`, in order.
pub fn of_call(deliveries: &[Value], id: &str) -> Vec<Value> {
    deliveries
        .iter()
        .filter(|d| about(deliveries, d, id))
        .cloned()
        .collect()
}

/// Whether a delivery is about the call `id`: by its call control id, or by
/// its leg for the events that name only the leg (`call.recording.saved`).
fn about(all: &[Value], delivery: &Value, id: &str) -> bool {
    let payload = &delivery["data"]["payload"];
    if payload["call_control_id"] == id {
        return true;
    }
    payload.get("call_control_id").is_none()
        && all.iter().any(|d| {
            d["data"]["payload"]["call_control_id"] == id
                && d["data"]["payload"]["call_leg_id"] == payload["call_leg_id"]
        })
}

/// `data.event_type` of each delivery, for comparing with a list.
pub fn types(deliveries: &[Value]) -> Vec<String> {
    event_types(deliveries)
}

/// `data.payload` of a delivery.
pub fn payload(delivery: &Value) -> &Value {
    &delivery["data"]["payload"]
}

/// Adds `extra`'s members to `body` (an explicit `null` removes one).
pub fn merge(body: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (body.as_object_mut(), extra) {
        for (key, value) in extra {
            if value.is_null() {
                target.remove(&key);
            } else {
                target.insert(key, value);
            }
        }
    }
}

/// (event type, call control id) of each delivery, for exact sequences.
pub fn sequence(deliveries: &[Value]) -> Vec<(String, String)> {
    let calls = deliveries.iter().map(|d| {
        let call = &d["data"]["payload"]["call_control_id"];
        call.as_str().unwrap_or_default().to_owned()
    });
    event_types(deliveries).into_iter().zip(calls).collect()
}

/// `(event, call)` pairs, for writing expected sequences.
pub fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(e, c)| ((*e).to_owned(), (*c).to_owned()))
        .collect()
}
