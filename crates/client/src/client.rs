//! A channel to the gateway carrying the caller's token, and its services.

use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::auth::{AuthedChannel, BearerToken, InvalidToken};
use crate::pb::{
    SubscribeRequest, call_service_client::CallServiceClient,
    conference_service_client::ConferenceServiceClient, event_service_client::EventServiceClient,
    queue_service_client::QueueServiceClient,
};
use crate::subscription::Subscription;

/// The gateway's own HTTP/2 keepalive interval: pings this often notice a
/// dead connection on a quiet event stream.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{target:?} is not a gateway address (expected http://host:port or https://host:port)")]
    InvalidTarget { target: String },
    #[error(transparent)]
    Token(#[from] InvalidToken),
}

/// A connection to the gateway whose every call carries the caller's token.
/// Cloning is cheap and shares the connection.
#[derive(Debug, Clone)]
pub struct Client {
    channel: AuthedChannel,
}

impl Client {
    /// The gateway at `target` (`http://127.0.0.1:50051`), connected on first
    /// use and again after the connection is lost. Must be called within a
    /// Tokio runtime. For TLS, configure [`Client::endpoint`] and use
    /// [`Client::from_endpoint`].
    pub fn connect(target: impl Into<String>, token: &str) -> Result<Client, ConnectError> {
        Client::from_endpoint(Client::endpoint(target)?, token)
    }

    /// The endpoint [`Client::connect`] uses: keepalive pings every 30 s and
    /// a 5 s connect timeout. Add TLS (`.tls_config(...)`) or other settings,
    /// then pass it to [`Client::from_endpoint`].
    pub fn endpoint(target: impl Into<String>) -> Result<Endpoint, ConnectError> {
        let target = target.into();
        let endpoint = Endpoint::from_shared(target.clone())
            .map_err(|_| ConnectError::InvalidTarget { target })?;
        Ok(endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .tcp_nodelay(true))
    }

    /// A client on `endpoint`, connected on first use.
    pub fn from_endpoint(endpoint: Endpoint, token: &str) -> Result<Client, ConnectError> {
        Ok(Client::with_channel(endpoint.connect_lazy(), token)?)
    }

    /// A client on a channel made elsewhere.
    pub fn with_channel(channel: Channel, token: &str) -> Result<Client, InvalidToken> {
        Ok(Client {
            channel: InterceptedService::new(channel, BearerToken::new(token)?),
        })
    }

    /// The channel, for generated clients of services this crate does not name.
    pub fn channel(&self) -> AuthedChannel {
        self.channel.clone()
    }

    pub fn conferences(&self) -> ConferenceServiceClient<AuthedChannel> {
        ConferenceServiceClient::new(self.channel())
    }

    pub fn queues(&self) -> QueueServiceClient<AuthedChannel> {
        QueueServiceClient::new(self.channel())
    }

    pub fn calls(&self) -> CallServiceClient<AuthedChannel> {
        CallServiceClient::new(self.channel())
    }

    /// The plain event client: streams that end for good on any status.
    /// [`Client::subscribe`] is the one that resumes.
    pub fn events(&self) -> EventServiceClient<AuthedChannel> {
        EventServiceClient::new(self.channel())
    }

    /// Events matching `request`, from its `resume_after` if set (else live),
    /// resuming by itself: see [`Subscription`].
    pub fn subscribe(&self, request: SubscribeRequest) -> Subscription {
        Subscription::new(self.events(), request)
    }
}
