//! A simulated Telnyx: the 83 voice REST operations of Telnyx's spec, in
//! memory, with the webhooks Telnyx would send, signed as Telnyx signs them,
//! and the far end of every call played too.
//!
//! It exists so the gateway (and anything built on it) can be developed and
//! tested end to end without a Telnyx account or a phone: take a call, speak
//! a menu, gather the key the caller presses, queue the call, bridge an
//! agent, record, and watch the same events arrive as in production,
//! including the bad days ([`Chaos`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), telnyx_sim::SimulatorError> {
//! use telnyx_sim::Simulator;
//!
//! let telnyx = Simulator::builder()
//!     .webhook_url("http://127.0.0.1:8080/webhooks/telnyx")
//!     .bind("127.0.0.1:0")
//!     .await?;
//! println!("TELNYX_BASE_URL={}", telnyx.base_url());
//! println!("TELNYX_PUBLIC_KEY={}", telnyx.public_key_base64());
//! telnyx.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # The caller's side
//!
//! Besides Telnyx's API under `/v2`, the simulator serves an API of its own
//! under `/_sim/` on the same address, with no API key, for what callers do:
//!
//! - `POST /_sim/calls` `{"from", "to", "connection_id"}`: someone calls in
//!   (`call.initiated`, direction `incoming`); answers `{"call_control_id", ...}`.
//! - `POST /_sim/calls/{id}/dtmf` `{"digits": "1#"}`: keys, to the running
//!   gather or as `call.dtmf.received`.
//! - `POST /_sim/calls/{id}/speech` `{"text": "..."}`: words, for AI gathers,
//!   assistants, transcriptions and recordings.
//! - `POST /_sim/calls/{id}/hold`, `/unhold`, `/hangup`.
//!
//! See `sim_control` for the details. The far end of an outbound call is
//! chosen by the dialled number's last four digits (`far_end`): `0486` busy,
//! `0480` no answer, `0603` declines, `0404` unknown, `0999` an answering
//! machine, anything else a person. Every webhook delivery is recorded and
//! listed by `GET /webhook_deliveries` (`deliveries`); a delivery is retried
//! until [`Timing::webhook_attempts`] run out or
//! [`SimulatorBuilder::webhook_retry_window`] closes, then recorded `failed`.
//!
//! # Layout
//!
//! - `routes` is the table of operations and the one request path;
//!   `sim_control` is the caller's side.
//! - Handlers, by resource: `calls` (dial, answer, hangup, bridge, transfer,
//!   lists), `call_actions` (status, reject, refer, client state, supervisor
//!   role, DTMF, SIP INFO), `media` (speak, playback), `gather`,
//!   `recording`, `streams` (fork, streaming, SIPREC), `transcription`
//!   (and noise suppression), `assistant` (AI assistant, conversation relay)
//!   and `ai_gather`, sharing `conversation`; `conferences`, `participants`, `conference_media`,
//!   `queues`, `applications`; `deliveries`.
//! - `lifecycle` is how a call starts, is answered, bridged and ends;
//!   `far_end` what answers an outbound call; `activity` what runs on a call
//!   and how it ends with the call.
//! - `state` and `model` hold the account; `events` says which fields
//!   each webhook carries; `webhooks` signs, delivers and records them.
//! - `chaos` misbehaves on purpose ([`Chaos`]); `timing` sets the pace ([`Timing`]).
//! - `signer` signs webhooks as Telnyx does; the one signer the tests and the
//!   benchmark use too.
//! - `main.rs` is the standalone `telnyx-sim` binary; the gateway's
//!   `sandbox` command runs the same simulator in the gateway's process.
//!
//! It depends on no crate of the workspace: it plays Telnyx, and knows the
//! gateway only as a URL its webhooks go to.

mod activity;
mod ai_gather;
mod applications;
mod assistant;
mod call_actions;
mod calls;
mod chaos;
mod clock;
mod conference_media;
mod conferences;
mod conversation;
mod deliveries;
mod error;
mod events;
mod far_end;
mod gather;
mod ids;
mod lifecycle;
mod media;
mod model;
mod paging;
mod participants;
mod queues;
mod recording;
mod reply;
mod request;
mod routes;
mod scheduler;
mod signer;
mod sim_control;
mod state;
mod streams;
mod timing;
mod transcription;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use chaos::{Chaos, ChaosError};
pub use ed25519_dalek::SigningKey;
pub use signer::{SIGNATURE_HEADER, Signer, TIMESTAMP_HEADER};
pub use timing::Timing;

use chaos::Dice;
use routes::Shared;
use state::{Backlog, Channels, World};
use webhooks::Courier;

/// The wire names of every webhook event the simulator sends.
pub fn event_types() -> impl Iterator<Item = &'static str> {
    events::ALL.iter().map(|kind| kind.name)
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("invalid chaos settings: {0}")]
    Chaos(#[from] ChaosError),
    #[error("cannot generate a webhook signing key: {0}")]
    Key(getrandom::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot build the webhook client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Entry point: [`Simulator::builder`].
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }
}

/// Settings of a simulator; everything has a working default.
#[derive(Debug, Default)]
pub struct SimulatorBuilder {
    webhook_url: Option<String>,
    signer: Option<Signer>,
    api_key: Option<String>,
    chaos: Chaos,
    timing: Timing,
    webhook_retry_window: Option<Duration>,
}

impl SimulatorBuilder {
    /// Where webhooks go. Without one, events are only logged in call events.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// The key webhooks are signed with; a fresh one when not given.
    pub fn signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The only bearer token accepted; any non-empty one when not given.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    pub fn chaos(mut self, chaos: Chaos) -> Self {
        self.chaos = chaos;
        self
    }

    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// How long a webhook delivery is retried before it is recorded as
    /// failed (60 s, as on Telnyx); overrides [`Timing::webhook_retry_window`]
    /// whatever the order of the calls.
    pub fn webhook_retry_window(mut self, window: Duration) -> Self {
        self.webhook_retry_window = Some(window);
        self
    }

    /// Listens on `addr` (port 0 picks a free port) and starts serving.
    pub async fn bind(
        self,
        addr: impl ToSocketAddrs + std::fmt::Debug,
    ) -> Result<RunningSimulator, SimulatorError> {
        self.chaos.validate()?;
        let shown = format!("{addr:?}");
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimulatorError::Bind {
                addr: shown,
                source,
            })?;
        self.serve(listener)
    }

    /// Starts serving on a listener bound beforehand. The gateway's `sandbox`
    /// command needs the simulator's address (its `TELNYX_BASE_URL`) before
    /// the gateway exists, and the gateway's address (the webhook URL) before
    /// the simulator starts: binding first breaks that circle.
    pub fn serve(mut self, listener: TcpListener) -> Result<RunningSimulator, SimulatorError> {
        self.chaos.validate()?;
        if let Some(window) = self.webhook_retry_window {
            self.timing.webhook_retry_window = window;
        }
        let signer = match self.signer {
            Some(signer) => signer,
            None => Signer::generate().map_err(SimulatorError::Key)?,
        };
        let local_addr = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                addr: "a pre-bound listener".to_owned(),
                source,
            })?;

        let (outbox, events) = mpsc::unbounded_channel();
        let (scheduler, steps) = mpsc::unbounded_channel();
        let backlog = Arc::new(Backlog::default());
        let channels = Channels {
            outbox,
            scheduler,
            backlog: backlog.clone(),
        };
        let mut world = World::new(self.timing.clone(), channels);
        let placeholder = format!("http://{local_addr}/webhooks");
        let connection_id =
            world.add_default_application(self.webhook_url.as_deref().unwrap_or(&placeholder));
        let world = Arc::new(Mutex::new(world));
        let dice = Arc::new(Dice::new(self.chaos));
        let cancel = CancellationToken::new();

        let mut tasks = vec![tokio::spawn(scheduler::run(
            world.clone(),
            steps,
            backlog.clone(),
            cancel.clone(),
        ))];
        tasks.push(match self.webhook_url {
            Some(url) => {
                let courier = Courier {
                    url,
                    http: reqwest::Client::builder().build()?,
                    signer: signer.clone(),
                    dice: dice.clone(),
                    timing: self.timing,
                    world: world.clone(),
                    backlog,
                };
                tokio::spawn(courier.run(events, cancel.clone()))
            }
            None => tokio::spawn(webhooks::discard(events, backlog, cancel.clone())),
        });
        let shared = Arc::new(Shared {
            world: world.clone(),
            dice,
            api_key: self.api_key,
        });
        let app = routes::router(shared);
        let stop = cancel.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "simulated Telnyx stopped");
            }
        }));
        tracing::info!(addr = %local_addr, "simulated Telnyx listening");
        Ok(RunningSimulator {
            addr: local_addr,
            public_key: signer.public_key_base64(),
            connection_id,
            world,
            cancel,
            tasks,
        })
    }
}

/// A simulator serving in the background until [`RunningSimulator::shutdown`]
/// (or until dropped).
pub struct RunningSimulator {
    addr: SocketAddr,
    public_key: String,
    connection_id: String,
    world: Arc<Mutex<World>>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSimulator {
    /// The REST base URL, ending in `/v2`, as `TELNYX_BASE_URL` takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The webhook verification key, base64, as `TELNYX_PUBLIC_KEY` takes it.
    pub fn public_key_base64(&self) -> String {
        self.public_key.clone()
    }

    /// The Call Control application the simulator starts with, to dial on.
    pub fn connection_id(&self) -> String {
        self.connection_id.clone()
    }

    /// Someone calls in: a ringing inbound call on the default application
    /// (`call.initiated`, direction `incoming`), to be answered with
    /// `POST /calls/{id}/actions/answer`. Returns its call control id. Over
    /// HTTP, the same is `POST /_sim/calls`.
    pub fn incoming_call(&self, from: &str, to: &str) -> String {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        world.ring(&self.connection_id, from, to)
    }

    /// Stops serving and delivering, and waits until everything has stopped.
    /// Webhooks not yet delivered are dropped.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gateway's `sandbox` command keeps a simulator across tasks.
    #[test]
    fn a_running_simulator_can_move_between_tasks() {
        fn shareable<T: Send + Sync>() {}
        shareable::<RunningSimulator>();
        shareable::<SimulatorBuilder>();
    }

    #[tokio::test]
    async fn bad_chaos_is_refused_before_binding() {
        let chaos = Chaos {
            failed_requests: 2.0,
            ..Chaos::default()
        };
        let error = Simulator::builder().chaos(chaos).bind("127.0.0.1:0").await;
        assert!(matches!(error, Err(SimulatorError::Chaos(_))));
    }
}
