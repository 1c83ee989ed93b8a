//! Builds the listeners, wires the services, and owns shutdown.
//!
//! Shutdown, in order: with the in-process bus webhooks are refused (503, so
//! Telnyx delivers them again after the restart); readiness and gRPC health
//! go to not-serving at once;
//! both listeners stop taking new connections and calls; open event streams
//! end with UNAVAILABLE so subscribers resume elsewhere; in-flight unary calls
//! get `GATEWAY_SHUTDOWN_GRACE_SECS` to finish; then `run_until` returns.

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::auth::{AccessPolicy, AuthError, Authenticator};
use crate::config::{Config, ConfigError, ListenAddr};
use crate::grpc::{EventService, FilterLimits, GuardLayer, StateService, StreamCaps, TelnyxApi};
use crate::http::connections::HttpLimits;
use crate::http::{HttpState, Readiness};
use crate::limits::{Limits, Reported, Shared};
use crate::metrics::Metrics;
use crate::recovery::Recovery;
use crate::webhook::WebhookState;
use api::v1 as pb;
use events::{EventBus, MemoryBus, RedisBus, RedisBusError};
use telnyx_client::TelnyxClient;

/// HTTP/2 pings keep idle event streams alive through load balancers that
/// drop quiet connections, and detect dead peers.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Concurrent HTTP/2 streams one gRPC connection may open (tonic sets no
/// limit otherwise): one client cannot make the server track an unbounded
/// number of calls. Clients queue beyond it rather than fail.
const GRPC_MAX_STREAMS_PER_CONNECTION: u32 = 1024;

/// TCP keepalive on gRPC connections, so peers that vanished without a word
/// (a node gone, a NAT entry dropped) stop holding a socket.
const GRPC_TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// How long the gateway waits at start for the live state to fold the event
/// history, when the bus is up; `StateService` answers UNAVAILABLE until then.
const STATE_BUILD_WAIT: Duration = Duration::from_secs(10);

/// How long the shutdown waits for recovery to give its lease back.
const RECOVERY_STOP_WAIT: Duration = Duration::from_secs(2);

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot listen on {addr} ({setting}): {source}")]
    Bind {
        setting: &'static str,
        addr: ListenAddr,
        source: io::Error,
    },
    #[error("{setting}: cannot read {path}: {source}")]
    Tls {
        setting: &'static str,
        path: String,
        source: io::Error,
    },
    #[error(transparent)]
    Bus(#[from] RedisBusError),
    #[error(transparent)]
    Client(#[from] telnyx_client::ClientError),
    #[error("gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

impl AppError {
    /// Whether the settings are at fault (exit status 2), rather than the
    /// machine or the network.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            AppError::Config(_)
                | AppError::Auth(_)
                | AppError::Bus(_)
                | AppError::Tls { .. }
                | AppError::Client(telnyx_client::ClientError::InvalidApiKey)
        )
    }
}

/// A gateway with its listeners bound, ready to run.
pub struct Application {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    api: TelnyxApi,
    bus: Arc<dyn EventBus>,
    state: state::Tracker,
    webhook: WebhookState,
    auth: Authenticator,
    access: AccessPolicy,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    recovery: Option<Recovery>,
    tls: Option<ServerTlsConfig>,
    shutdown_grace: Duration,
    max_concurrent_calls: usize,
    max_message_bytes: usize,
    http_limits: HttpLimits,
    filter_limits: FilterLimits,
    stream_caps: StreamCaps,
}

impl Application {
    /// Checks the settings, binds both listeners (port 0 picks a free port)
    /// and builds the services.
    pub async fn build(config: &Config) -> Result<Self, AppError> {
        let auth = Authenticator::new(
            config
                .auth
                .tokens
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret),
            config.auth.tokens_file.clone(),
            config.auth.allow_unauthenticated,
        )?;
        let access = AccessPolicy::load(
            config.auth.policy_file.clone(),
            crate::grpc::api_methods().names(),
        )?;
        let tls = tls_config(config)?;
        let metrics = Metrics::new();
        let default_deadline = Duration::from_secs(config.server.default_deadline_secs);
        // Rate limits are shared through the bus's Redis, when there is one,
        // so every replica draws from the same buckets; they reach it through
        // the bus, which follows the primary through a failover and knows
        // the cluster in cluster mode.
        let (bus, shared): (Arc<dyn EventBus>, _) = match config.redis.bus(&config.events) {
            Some(settings) => {
                let redis = Arc::new(RedisBus::connect(settings).await?);
                let primary = Arc::clone(&redis);
                let shared = Shared::through(
                    Arc::new(move || {
                        let bus = Arc::clone(&primary);
                        Box::pin(async move { bus.connection().await })
                    }),
                    &config.redis.prefix,
                );
                (redis, Some(shared))
            }
            None => (Arc::new(MemoryBus::new(config.events.memory_bus())), None),
        };
        let limits = Arc::new(Limits::new(shared));
        // The client tells the limits what Telnyx says of the account's
        // remaining requests, so calls wait for the reset instead of a 429.
        let reported = Reported {
            metrics: Arc::clone(&metrics),
            limits: Arc::clone(&limits),
        };
        let client = TelnyxClient::new(&config.telnyx.client()?, Arc::new(reported))?;
        let recovery_client = client.clone();
        let api = TelnyxApi::new(
            mapping::catalog(),
            client,
            Arc::clone(&metrics),
            default_deadline,
        )
        .with_limits(Arc::clone(&limits));
        let state = state::Tracker::start(Arc::clone(&bus), state::Settings::default());
        if bus.is_ready() && !state.wait_ready(STATE_BUILD_WAIT).await {
            tracing::warn!(
                "the live state is still folding the event history; StateService answers UNAVAILABLE until it is done"
            );
        }
        let webhook = WebhookState::new(
            config.webhook.settings()?,
            events::converter(),
            Arc::clone(&bus),
            Arc::clone(&metrics),
        );
        let recovery = config.events.recovery().map(|settings| {
            Recovery::new(
                recovery_client,
                Arc::clone(&bus),
                events::converter(),
                Arc::clone(&metrics),
                settings,
            )
        });
        let readiness = Readiness::with_bus(Arc::clone(&bus));
        let grpc_listener = bind("GATEWAY_GRPC_ADDR", &config.server.grpc_addr).await?;
        let http_listener = bind("GATEWAY_HTTP_ADDR", &config.server.http_addr).await?;
        Ok(Application {
            grpc_listener,
            http_listener,
            api,
            bus,
            state,
            webhook,
            auth,
            access,
            limits,
            metrics,
            readiness,
            recovery,
            tls,
            shutdown_grace: Duration::from_secs(config.server.shutdown_grace_secs),
            max_concurrent_calls: config.server.max_concurrent_calls as usize,
            max_message_bytes: config.server.max_message_bytes as usize,
            http_limits: config.server.http_limits(),
            filter_limits: config.events.filter_limits(),
            stream_caps: config.server.stream_caps(),
        })
    }

    /// The event bus, for tests and embedders that watch it.
    pub fn event_bus(&self) -> Arc<dyn EventBus> {
        Arc::clone(&self.bus)
    }

    /// The live call-center state, for tests and embedders that watch it.
    pub fn state(&self) -> state::Tracker {
        self.state.clone()
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then shuts down as described above.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let grpc_addr = self.grpc_addr();
        let http_addr = self.http_addr();
        let stopping = CancellationToken::new();
        let (health, health_service) = tonic_health::server::health_reporter();
        let service_names = [
            "",
            "conference_gateway.v1.ConferenceService",
            "conference_gateway.v1.QueueService",
            "conference_gateway.v1.CallService",
            "conference_gateway.v1.EventService",
            "conference_gateway.v1.StateService",
        ];
        for name in service_names {
            health
                .set_service_status(name, tonic_health::ServingStatus::Serving)
                .await;
        }

        let trigger = stopping.clone();
        let readiness = self.readiness.clone();
        let reporter = health.clone();
        let webhook = self.webhook.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: not ready, refusing new calls, draining");
            // Before the streams end, so no event is accepted that no
            // subscriber will see.
            webhook.set_draining();
            readiness.set_shutting_down();
            for name in service_names {
                reporter
                    .set_service_status(name, tonic_health::ServingStatus::NotServing)
                    .await;
            }
            trigger.cancel();
        });
        tokio::spawn(self.auth.clone().watch(stopping.clone().cancelled_owned()));
        tokio::spawn(
            self.access
                .clone()
                .watch(stopping.clone().cancelled_owned()),
        );
        // Awaited at the end, so a run cut short by the shutdown gives its
        // lease back instead of leaving the deployment without recovery
        // until the lease expires.
        let recovery = self
            .recovery
            .map(|recovery| tokio::spawn(recovery.watch(stopping.clone())));

        let reflection_v1 = reflection()
            .build_v1()
            .expect("the descriptor sets are valid");
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .expect("the descriptor sets are valid");

        let limit = self.max_message_bytes;
        let mut builder = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .max_concurrent_streams(GRPC_MAX_STREAMS_PER_CONNECTION);
        if let Some(tls) = self.tls {
            builder = builder.tls_config(tls)?;
        }
        let guard = GuardLayer::new(
            self.auth,
            self.access,
            self.limits,
            self.max_concurrent_calls,
            Arc::clone(&self.metrics),
        )
        .with_stream_caps(self.stream_caps);
        let grpc = builder
            .layer(guard)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(
                pb::conference_service_server::ConferenceServiceServer::new(self.api.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            .add_service(
                pb::queue_service_server::QueueServiceServer::new(self.api.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            .add_service(
                pb::call_service_server::CallServiceServer::new(self.api.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            // Event streams end on `stopping` with UNAVAILABLE rather than
            // hold the listener open through the drain.
            .add_service(
                EventService::new(
                    self.bus,
                    self.api,
                    limit,
                    stopping.clone(),
                    Arc::clone(&self.metrics),
                )
                .with_filter_limits(self.filter_limits),
            )
            .add_service(
                StateService::new(self.state, stopping.clone(), Arc::clone(&self.metrics))
                    .server(limit),
            )
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY a streamed event can wait out a delayed ACK (~40 ms).
                TcpIncoming::from(self.grpc_listener)
                    .with_nodelay(Some(true))
                    .with_keepalive(Some(GRPC_TCP_KEEPALIVE)),
                stopping.clone().cancelled_owned(),
            );

        let state = HttpState {
            readiness: self.readiness.clone(),
            metrics: Arc::clone(&self.metrics),
        };
        // The HTTP listener outlives the gRPC drain, so probes keep answering
        // "not ready: shutting down" (and metrics stay scrapeable) until the
        // last in-flight call is done.
        let drained = CancellationToken::new();
        let http = crate::http::connections::serve(
            self.http_listener,
            crate::http::router(state, self.webhook),
            self.http_limits,
            drained.clone(),
        );

        tracing::info!(grpc = %grpc_addr, http = %http_addr, "conference-gateway listening");
        self.readiness.set_started();

        let servers = async {
            let grpc = async {
                let result = grpc.await;
                drained.cancel();
                result
            };
            let (grpc, ()) = tokio::join!(grpc, http);
            grpc
        };
        let grace = self.shutdown_grace;
        let deadline = async move {
            stopping.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = servers => result?,
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "calls still running after the shutdown grace; exiting anyway");
            }
        }
        if let Some(recovery) = recovery {
            let _ = tokio::time::timeout(RECOVERY_STOP_WAIT, recovery).await;
        }
        tracing::info!("conference-gateway stopped");
        Ok(())
    }
}

/// Reflection over everything a tool meets talking to the gateway: the API,
/// the health service, and the `google.rpc` error details (`ErrorInfo`,
/// `BadRequest`, ...) that statuses carry, so `grpcurl` and `buf curl` decode
/// them instead of printing base64.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

/// Binds `addr`; a host name is resolved now, and the first of its addresses
/// that binds is taken.
async fn bind(setting: &'static str, addr: &ListenAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr.to_string())
        .await
        .map_err(|source| AppError::Bind {
            setting,
            addr: addr.clone(),
            source,
        })
}

/// The gRPC listener's TLS settings, when a certificate is configured.
fn tls_config(config: &Config) -> Result<Option<ServerTlsConfig>, AppError> {
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Ok(None);
    };
    let read = |setting: &'static str, path: &std::path::Path| {
        std::fs::read(path).map_err(|source| AppError::Tls {
            setting,
            path: path.display().to_string(),
            source,
        })
    };
    let identity = Identity::from_pem(
        read("GATEWAY_TLS_CERT", cert)?,
        read("GATEWAY_TLS_KEY", key)?,
    );
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.server.tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read("GATEWAY_TLS_CLIENT_CA", ca)?));
    }
    Ok(Some(tls))
}
