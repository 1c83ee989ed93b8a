//! Builds the listeners, wires the services, and owns shutdown.

use std::{future::Future, io, net::SocketAddr, sync::Arc};

use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

use crate::config::{Config, ConfigError};
use crate::events::{EventBus, EventService, MemoryBus};
use crate::grpc::TelnyxApi;
use crate::proto::{self, v1 as pb};
use crate::telnyx::TelnyxClient;
use crate::webhook::WebhookState;

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr} ({setting}): {source}")]
    Bind {
        setting: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("cannot build the Telnyx client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("HTTP server failed: {0}")]
    Http(io::Error),
}

/// A gateway with its listeners bound, ready to run.
pub struct Application {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    api: TelnyxApi,
    bus: Arc<dyn EventBus>,
    webhook: WebhookState,
    /// Cancelled on shutdown; event streams end on it rather than hold the
    /// gRPC listener open.
    shutdown: CancellationToken,
}

impl Application {
    /// Binds both listeners (port 0 picks a free port) and builds the services.
    pub async fn build(config: &Config) -> Result<Self, AppError> {
        let client = TelnyxClient::new(&config.telnyx()?)?;
        let api = TelnyxApi::new(proto::catalog(), client);
        let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new(config.memory_bus()));
        let webhook = WebhookState::new(
            config.webhook()?,
            crate::events::converter(),
            Arc::clone(&bus),
        );
        let grpc_listener = bind("GATEWAY_GRPC_ADDR", config.grpc_addr).await?;
        let http_listener = bind("GATEWAY_HTTP_ADDR", config.http_addr).await?;
        Ok(Application {
            grpc_listener,
            http_listener,
            api,
            bus,
            webhook,
            shutdown: CancellationToken::new(),
        })
    }

    /// The event bus, for tests and embedders that watch it.
    pub fn event_bus(&self) -> Arc<dyn EventBus> {
        Arc::clone(&self.bus)
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

    /// Serves until `shutdown` completes, then drains both listeners.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let token = self.shutdown.clone();
        let trigger = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });

        tracing::info!(grpc = %self.grpc_addr(), http = %self.http_addr(), "conference-gateway listening");

        let grpc = tonic::transport::Server::builder()
            .add_service(pb::conference_service_server::ConferenceServiceServer::new(
                self.api.clone(),
            ))
            .add_service(pb::queue_service_server::QueueServiceServer::new(
                self.api.clone(),
            ))
            .add_service(pb::call_service_server::CallServiceServer::new(self.api))
            .add_service(EventService::new(self.bus, token.clone()))
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY a streamed event can wait out a delayed ACK (~40 ms).
                TcpIncoming::from(self.grpc_listener).with_nodelay(Some(true)),
                token.clone().cancelled_owned(),
            );
        let http_listener = self.http_listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY on an HTTP connection");
            }
        });
        let http = axum::serve(http_listener, crate::http::router(self.webhook))
            .with_graceful_shutdown(token.clone().cancelled_owned());

        let (grpc, http) = tokio::join!(grpc, async { http.await.map_err(AppError::Http) });
        grpc?;
        http?;
        tracing::info!("conference-gateway stopped");
        Ok(())
    }
}

async fn bind(setting: &'static str, addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind {
            setting,
            addr,
            source,
        })
}
