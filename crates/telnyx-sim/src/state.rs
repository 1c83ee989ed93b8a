//! The simulated account: every resource, the remembered commands, and the
//! two ways an action reaches beyond its request: events (to the webhook
//! outbox, in the order they happen) and deferred steps ("a moment later").
//!
//! The world sits behind one lock and handlers run under it synchronously,
//! so each request is atomic and events leave in the order the state
//! changed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::activity::Conversation;
use super::clock::rfc3339;
use super::error::ApiError;
use super::events::{Context, Event, EventKind};
use super::model::{Application, Call, CallState, Conference, Queue};
use super::reply::Reply;
use super::request::Request;
use super::timing::Timing;

/// How long a `command_id` is remembered, as on Telnyx.
const COMMAND_MEMORY: Duration = Duration::from_secs(60);
/// Ended calls kept (for `GET /calls/{id}` and 90018), oldest forgotten
/// first, so that calls placed through `/_sim/` cannot grow memory forever.
const ENDED_CALLS_KEPT: usize = 10_000;
/// Rows of `GET /call_events` kept, oldest dropped first.
const CALL_EVENTS_KEPT: usize = 100_000;

/// A step that runs under the lock at a given time.
pub struct Deferred {
    pub at: tokio::time::Instant,
    pub run: Box<dyn FnOnce(&mut World) + Send>,
}

/// Where events and deferred steps go.
pub struct Channels {
    pub outbox: UnboundedSender<Event>,
    pub scheduler: UnboundedSender<Deferred>,
    pub backlog: Arc<Backlog>,
}

/// How much work waits: events the courier has not taken yet, steps the
/// scheduler has not run yet. The caller's side, which takes no key, is
/// refused while it is too much, so it cannot grow memory without bound.
#[derive(Debug, Default)]
pub struct Backlog {
    pub events: AtomicUsize,
    pub steps: AtomicUsize,
}

impl Backlog {
    /// Notes that one event or step was taken off its queue.
    pub fn taken(counter: &AtomicUsize) {
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

pub struct World {
    pub calls: HashMap<String, Call>,
    pub conferences: HashMap<String, Conference>,
    pub queues: HashMap<String, Queue>,
    pub applications: HashMap<String, Application>,
    /// AI conversations (assistants, AI gathers, conversation relays) by id.
    pub conversations: HashMap<String, Conversation>,
    /// Commands and webhooks per call leg, as `GET /call_events` lists them.
    pub call_events: VecDeque<Value>,
    /// Webhook delivery records, oldest first (see `deliveries`).
    pub deliveries: VecDeque<Value>,
    /// The application inbound calls ring on when `/_sim/calls` names none.
    pub default_connection_id: Option<String>,
    /// The account's user id, as delivery records name their owner.
    pub user_id: String,
    pub timing: Timing,
    /// Ended calls, oldest first, until they are forgotten.
    ended: VecDeque<String>,
    commands: HashMap<(String, String), (Instant, Reply)>,
    channels: Channels,
    seq: u64,
}

impl World {
    pub fn new(timing: Timing, channels: Channels) -> Self {
        World {
            calls: HashMap::new(),
            conferences: HashMap::new(),
            queues: HashMap::new(),
            applications: HashMap::new(),
            conversations: HashMap::new(),
            call_events: VecDeque::new(),
            deliveries: VecDeque::new(),
            default_connection_id: None,
            user_id: super::ids::uuid(),
            timing,
            ended: VecDeque::new(),
            commands: HashMap::new(),
            channels,
            seq: 0,
        }
    }

    pub fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// A number that orders resources by creation.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Sends an event of `kind` built from `context`, and logs it for the
    /// call it concerns.
    pub fn emit(&mut self, kind: &EventKind, context: &Context) {
        let event = Event::new(kind, context, self.now());
        self.log_call_event("webhook", kind.name, context, json!({"event_id": event.id}));
        // The receiver only goes away when the simulator shuts down.
        if self.channels.outbox.send(event).is_ok() {
            self.channels.backlog.events.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events waiting to be delivered and steps waiting to run.
    pub fn backlog(&self) -> (usize, usize) {
        let backlog = &self.channels.backlog;
        (
            backlog.events.load(Ordering::Relaxed),
            backlog.steps.load(Ordering::Relaxed),
        )
    }

    /// Runs `step` under the lock after `after`.
    pub fn later(&mut self, after: Duration, step: impl FnOnce(&mut World) + Send + 'static) {
        let sent = self.channels.scheduler.send(Deferred {
            at: tokio::time::Instant::now() + after,
            run: Box::new(step),
        });
        if sent.is_ok() {
            self.channels.backlog.steps.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds a row to the call events log when `context` names a call leg.
    pub fn log_call_event(&mut self, kind: &str, name: &str, context: &Context, metadata: Value) {
        let (Some(leg), Some(session)) =
            (context.get("call_leg_id"), context.get("call_session_id"))
        else {
            return;
        };
        if self.call_events.len() >= CALL_EVENTS_KEPT {
            self.call_events.pop_front();
        }
        self.call_events.push_back(json!({
            "record_type": "call_event",
            "call_leg_id": leg,
            "call_session_id": session,
            "event_timestamp": rfc3339(self.now()),
            "name": name,
            "type": kind,
            "metadata": metadata,
        }));
    }

    /// The answer to a repeated `command_id` for the same resource, if it is one.
    pub fn replay(&mut self, scope: &str, command_id: &str) -> Option<Reply> {
        self.commands
            .retain(|_, (at, _)| at.elapsed() < COMMAND_MEMORY);
        self.commands
            .get(&(scope.to_owned(), command_id.to_owned()))
            .map(|(_, reply)| reply.clone())
    }

    pub fn remember(&mut self, scope: String, command_id: String, reply: Reply) {
        self.commands
            .insert((scope, command_id), (Instant::now(), reply));
    }

    /// Notes that a call ended, and forgets the oldest ended calls beyond
    /// what is kept (a call still waiting in a queue is kept until it leaves).
    pub fn forget_ended_calls(&mut self, id: &str) {
        self.ended.push_back(id.to_owned());
        while self.ended.len() > ENDED_CALLS_KEPT {
            let Some(oldest) = self.ended.pop_front() else {
                break;
            };
            if self.calls.get(&oldest).is_some_and(|c| c.queue.is_none()) {
                self.calls.remove(&oldest);
            }
        }
    }

    /// A call that exists and has not ended (90015, 90018 otherwise).
    pub fn live_call(&mut self, id: &str, field: &str) -> Result<&mut Call, ApiError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| ApiError::invalid_call(field))?;
        if call.is_alive() {
            Ok(call)
        } else {
            Err(ApiError::call_ended())
        }
    }

    /// A live call that is up: answered or bridged (90034 otherwise).
    pub fn answered_call(&mut self, id: &str, field: &str) -> Result<&mut Call, ApiError> {
        let call = self.live_call(id, field)?;
        match call.state {
            CallState::Dialing | CallState::Ringing => Err(ApiError::not_answered()),
            _ => Ok(call),
        }
    }

    /// The live, answered call a call command names in its path.
    pub fn commanded_call(&mut self, request: &Request) -> Result<&mut Call, ApiError> {
        self.answered_call(request.param("call_control_id"), "call_control_id")
    }

    /// A conference by id (404 90058 otherwise).
    pub fn conference(&mut self, id: &str) -> Result<&mut Conference, ApiError> {
        self.conferences
            .get_mut(id)
            .ok_or_else(ApiError::conference_not_found)
    }

    /// A conference that has not ended (90019 otherwise).
    pub fn live_conference(&mut self, id: &str) -> Result<&mut Conference, ApiError> {
        let conference = self.conference(id)?;
        if conference.is_active() {
            Ok(conference)
        } else {
            Err(ApiError::conference_ended())
        }
    }

    /// A queue by name (404 otherwise).
    pub fn queue(&mut self, name: &str) -> Result<&mut Queue, ApiError> {
        self.queues.get_mut(name).ok_or_else(ApiError::not_found)
    }

    /// The context of a call for its events; empty for an unknown id.
    pub fn call_context(&self, id: &str) -> Context {
        self.calls.get(id).map(Call::context).unwrap_or_default()
    }

    /// Records a `client_state` a command brought, for later webhooks.
    pub fn set_client_state(&mut self, id: &str, client_state: Option<&str>) {
        if let (Some(call), Some(state)) = (self.calls.get_mut(id), client_state) {
            call.client_state = Some(state.to_owned());
        }
    }
}
