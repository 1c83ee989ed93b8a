//! `conference_gateway.v1.StateService`: the live call-center state folded
//! by `state::Tracker`, read once (`Get*State`) or watched (`Watch*`).
//!
//! A watch renders its subject when it starts and again each time the
//! tracker says the subject changed. It never buffers: the tracker's watch
//! channel keeps only the newest version, and the response stream renders
//! only when tonic asks for the next message, that is when the reader has
//! taken the previous one. A slow reader therefore gets the newest state
//! next, with the number of states it missed, and costs nothing meanwhile.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::Stream;
use futures::StreamExt;
use state::{Fold, Gone, Subject, Tracker, Watch};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::access_status::AccessError;
use super::guard::Grant;
use super::state_status::{StateError, subject};
use super::trace::TraceContext;
use crate::audit::{self, ActedOn, Outcome};
use crate::auth::{Caller, Resource};
use crate::metrics::Metrics;
use api::v1 as pb;
use api::v1::state_service_server::{self, StateServiceServer};

/// How long a watch whose state is rebuilding waits for it before it ends
/// with UNAVAILABLE.
const REBUILD_WAIT: Duration = Duration::from_secs(60);

type Watching<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Serves the state of one replica's tracker until `shutdown` is cancelled.
#[derive(Debug, Clone)]
pub struct StateService {
    tracker: Tracker,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
}

impl StateService {
    pub fn new(tracker: Tracker, shutdown: CancellationToken, metrics: Arc<Metrics>) -> Self {
        StateService {
            tracker,
            shutdown,
            metrics,
        }
    }

    /// The tonic service, with the gateway's message size limit.
    pub fn server(self, limit: usize) -> StateServiceServer<Self> {
        StateServiceServer::new(self)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit)
    }

    /// Runs one call, counting it in the RPC metrics.
    fn record<T>(
        &self,
        method: &str,
        caller: Option<Caller>,
        started: Instant,
        result: Result<T, StateError>,
    ) -> Result<Response<T>, Status> {
        let result = result.map_err(Status::from);
        let code = result
            .as_ref()
            .map_or_else(Status::code, |_| tonic::Code::Ok);
        let caller = caller.as_ref().map_or("anonymous", Caller::name);
        self.metrics
            .record_rpc(method, code, caller, started.elapsed().as_secs_f64());
        result.map(Response::new)
    }

    /// Refuses a queue the caller's policy does not name (`queues`), as
    /// `QueueService` does: its state is the queue's as much as `GetQueue`'s
    /// answer is. Counted and audited like every refusal.
    fn check_queue(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        extensions: &tonic::Extensions,
        queue: &str,
    ) -> Result<(), StateError> {
        let Some(grant) = extensions.get::<Grant>() else {
            return Ok(());
        };
        let Some(rules) = &grant.rules else {
            return Ok(());
        };
        let caller = extensions.get::<Caller>().map_or("anonymous", Caller::name);
        let Err(denied) = rules.check_resource(caller, Resource::Queue, queue) else {
            return Ok(());
        };
        self.metrics.record_refusal(caller, denied.reason, false);
        let refused = AccessError::Denied(denied);
        audit::Record {
            caller,
            method: &grant.method,
            acted_on: &ActedOn {
                queue_name: queue.to_owned(),
                ..ActedOn::default()
            },
            outcome: Outcome::Denied,
            code: tonic::Code::PermissionDenied,
            trace_id: &TraceContext::from_metadata(metadata).trace_id,
        }
        .emit();
        Err(refused.into())
    }

    /// Opens a watch: the first message is rendered at once, so a subject
    /// that is gone or a state that is rebuilding fails the call itself.
    fn watch<T: Send + 'static>(
        &self,
        subject: Subject,
        mut render: impl FnMut(&Fold, u64) -> Result<T, StateError> + Send + 'static,
    ) -> Result<Watching<T>, StateError> {
        let mut watch = self.tracker.watch(subject);
        let first = watch.render(&mut render)??;
        let rest = watching(watch, self.shutdown.clone(), render);
        Ok(futures::stream::once(async { Ok(first) })
            .chain(rest)
            .boxed())
    }
}

/// Now, in milliseconds since the Unix epoch, by the local clock.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The messages after the first: one per change, until the subject is gone,
/// the tracker stops or the gateway shuts down.
fn watching<T: Send + 'static>(
    watch: Watch,
    shutdown: CancellationToken,
    render: impl FnMut(&Fold, u64) -> Result<T, StateError> + Send + 'static,
) -> Watching<T> {
    futures::stream::unfold(Some((watch, shutdown, render)), |open| async move {
        let (mut watch, shutdown, mut render) = open?;
        match next(&mut watch, &shutdown, &mut render).await {
            Ok(message) => Some((Ok(message), Some((watch, shutdown, render)))),
            Err(error) => Some((Err(Status::from(error)), None)),
        }
    })
    .boxed()
}

/// The next message of a watch: waits for a change, then renders it (after
/// the rebuild, when the state is being rebuilt).
async fn next<T>(
    watch: &mut Watch,
    shutdown: &CancellationToken,
    render: &mut impl FnMut(&Fold, u64) -> Result<T, StateError>,
) -> Result<T, StateError> {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => return Err(StateError::ShuttingDown),
        changed = watch.changed() => if !changed {
            return Err(StateError::ShuttingDown);
        },
    }
    loop {
        match watch.render(&mut *render) {
            Ok(message) => return message,
            Err(state::NotReady) => tokio::select! {
                biased;
                () = shutdown.cancelled() => return Err(StateError::ShuttingDown),
                ready = watch.wait_ready(REBUILD_WAIT) => if !ready {
                    return Err(state::NotReady.into());
                },
            },
        }
    }
}

fn gone<'a>(what: &'static str, id: &'a str) -> impl Fn(Gone) -> StateError + 'a {
    move |Gone| StateError::Gone {
        what,
        id: id.to_owned(),
    }
}

#[tonic::async_trait]
impl state_service_server::StateService for StateService {
    async fn get_queue_state(
        &self,
        request: Request<pb::GetQueueStateRequest>,
    ) -> Result<Response<pb::GetQueueStateResponse>, Status> {
        let started = Instant::now();
        let (metadata, extensions, request) = request.into_parts();
        let caller = extensions.get::<Caller>().cloned();
        let result = subject("queue_name", &request.queue_name).and_then(|name| {
            self.check_queue(&metadata, &extensions, name)?;
            let state = self.tracker.read(|fold| fold.queue(name, now()))?;
            Ok(pb::GetQueueStateResponse { state: Some(state) })
        });
        self.record("GetQueueState", caller, started, result)
    }

    type WatchQueueStream = Watching<pb::WatchQueueResponse>;

    async fn watch_queue(
        &self,
        request: Request<pb::WatchQueueRequest>,
    ) -> Result<Response<Self::WatchQueueStream>, Status> {
        let started = Instant::now();
        let (metadata, extensions, request) = request.into_parts();
        let caller = extensions.get::<Caller>().cloned();
        let result = subject("queue_name", &request.queue_name).and_then(|name| {
            self.check_queue(&metadata, &extensions, name)?;
            let name = name.to_owned();
            let mut previous: Option<pb::QueueState> = None;
            self.watch(
                Subject::Queue(name.as_str().into()),
                move |fold, skipped| {
                    let state = fold.queue(&name, now());
                    let changes = previous
                        .as_ref()
                        .map(|before| fold.queue_changes(&name, before, &state));
                    previous = Some(state.clone());
                    Ok(pb::WatchQueueResponse {
                        state: Some(state),
                        skipped,
                        changes: Some(changes.unwrap_or_default()),
                    })
                },
            )
        });
        self.record("WatchQueue", caller, started, result)
    }

    async fn get_conference_state(
        &self,
        request: Request<pb::GetConferenceStateRequest>,
    ) -> Result<Response<pb::GetConferenceStateResponse>, Status> {
        let started = Instant::now();
        let caller = request.extensions().get::<Caller>().cloned();
        let request = request.into_inner();
        let result = subject("conference_id", &request.conference_id).and_then(|id| {
            let state = self
                .tracker
                .read(|fold| fold.conference(id, now()))?
                .map_err(gone("conference", id))?;
            Ok(pb::GetConferenceStateResponse { state: Some(state) })
        });
        self.record("GetConferenceState", caller, started, result)
    }

    type WatchConferenceStream = Watching<pb::WatchConferenceResponse>;

    async fn watch_conference(
        &self,
        request: Request<pb::WatchConferenceRequest>,
    ) -> Result<Response<Self::WatchConferenceStream>, Status> {
        let started = Instant::now();
        let caller = request.extensions().get::<Caller>().cloned();
        let request = request.into_inner();
        let result = subject("conference_id", &request.conference_id).and_then(|id| {
            let id = id.to_owned();
            self.watch(
                Subject::Conference(id.as_str().into()),
                move |fold, skipped| {
                    let state = fold
                        .conference(&id, now())
                        .map_err(gone("conference", &id))?;
                    Ok(pb::WatchConferenceResponse {
                        state: Some(state),
                        skipped,
                    })
                },
            )
        });
        self.record("WatchConference", caller, started, result)
    }

    async fn get_call_state(
        &self,
        request: Request<pb::GetCallStateRequest>,
    ) -> Result<Response<pb::GetCallStateResponse>, Status> {
        let started = Instant::now();
        let caller = request.extensions().get::<Caller>().cloned();
        let request = request.into_inner();
        let result = subject("call_control_id", &request.call_control_id).and_then(|id| {
            let state = self
                .tracker
                .read(|fold| fold.call(id, now()))?
                .map_err(gone("call", id))?;
            Ok(pb::GetCallStateResponse { state: Some(state) })
        });
        self.record("GetCallState", caller, started, result)
    }

    type WatchCallStream = Watching<pb::WatchCallResponse>;

    async fn watch_call(
        &self,
        request: Request<pb::WatchCallRequest>,
    ) -> Result<Response<Self::WatchCallStream>, Status> {
        let started = Instant::now();
        let caller = request.extensions().get::<Caller>().cloned();
        let request = request.into_inner();
        let result = subject("call_control_id", &request.call_control_id).and_then(|id| {
            let id = id.to_owned();
            self.watch(Subject::Call(id.as_str().into()), move |fold, skipped| {
                let state = fold.call(&id, now()).map_err(gone("call", &id))?;
                Ok(pb::WatchCallResponse {
                    state: Some(state),
                    skipped,
                })
            })
        });
        self.record("WatchCall", caller, started, result)
    }
}
