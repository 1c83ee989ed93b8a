//! The one HTTP client every RPC shares: authentication, timeouts bounded by
//! the caller's deadline, and retries that can never make an action happen twice.

use std::{sync::Arc, time::Duration};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value as Json;
use tokio::time::Instant;

use crate::call::RestCall;
use crate::error::{ApiError, TelnyxError};
use crate::observer::Observer;
use crate::rate_limit::RateLimitState;
use crate::retry::{RetryPolicy, is_retryable_status, retry_after};

/// How the gateway reaches Telnyx.
#[derive(Debug, Clone)]
pub struct TelnyxConfig {
    pub api_key: SecretString,
    /// `https://api.telnyx.com/v2`, or a local server in tests.
    pub base_url: reqwest::Url,
    /// Upper bound for one attempt; the caller's deadline may cut it shorter.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// The largest answer read, in bytes; a larger one is refused with
    /// [`TelnyxError::TooLarge`] once this much has arrived, or at once when
    /// its declared length says so.
    pub max_response_bytes: usize,
}

/// The documented default of `max_response_bytes`: 8 MiB, far above any
/// answer of Telnyx's API (a full page of 250 records is under 1 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The key has characters an HTTP header cannot carry (a line break from
    /// a mounted file, say); sending `Bearer` alone would fail every call.
    #[error(
        "TELNYX_API_KEY is not a valid HTTP header value (control characters or line breaks inside it)"
    )]
    InvalidApiKey,
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A cheap-to-clone handle on the shared connection pool.
#[derive(Clone)]
pub struct TelnyxClient {
    http: reqwest::Client,
    /// The base URL, parsed once: every call only sets its path on a copy,
    /// rather than formatting and parsing a whole URL (host included).
    base_url: reqwest::Url,
    /// The base URL's path without a trailing slash (`/v2`, or empty), the
    /// prefix of every call's path.
    base_path: String,
    authorization: HeaderValue,
    timeout: Duration,
    retry: RetryPolicy,
    max_response_bytes: usize,
    observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for TelnyxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelnyxClient")
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What `send` needs to know about the operation besides the call itself.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The RPC's short name, for logs.
    pub operation: &'a str,
    /// Whether a failed attempt may be sent again (see `Operation::is_idempotent`).
    pub idempotent: bool,
    /// When the caller stops waiting: no attempt, and no wait between
    /// attempts, outlives it.
    pub deadline: Instant,
    /// The W3C `traceparent` to send, continuing the caller's trace.
    pub traceparent: Option<&'a str>,
}

impl TelnyxClient {
    /// A client for `config`, reporting every request to `observer`. The key
    /// is trimmed of surrounding white space (a Secret mounted from a file
    /// often ends in a newline); anything still unfit for a header is refused.
    pub fn new(config: &TelnyxConfig, observer: Arc<dyn Observer>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("conference-gateway/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", config.api_key.expose_secret().trim()))
                .map_err(|_| ClientError::InvalidApiKey)?;
        authorization.set_sensitive(true);
        Ok(TelnyxClient {
            http,
            base_url: base_url(&config.base_url),
            base_path: config.base_url.path().trim_end_matches('/').to_owned(),
            authorization,
            timeout: config.timeout,
            retry: config.retry,
            max_response_bytes: config.max_response_bytes,
            observer,
        })
    }

    /// Sends `call`, retrying what is safe to retry, and returns the JSON body
    /// of the successful answer (`Null` for an empty one).
    pub async fn send(
        &self,
        call: &RestCall,
        context: CallContext<'_>,
    ) -> Result<Json, TelnyxError> {
        let started = std::time::Instant::now();
        let mut retries = 0;
        let outcome = self.send_with_retries(call, context, &mut retries).await;
        let status = match &outcome {
            Ok(_) => "ok",
            Err(TelnyxError::Api { status, .. }) => status_label(*status),
            Err(error) => error.kind(),
        };
        self.observer.request_finished(
            context.operation,
            status,
            retries,
            started.elapsed().as_secs_f64(),
        );
        outcome
    }

    async fn send_with_retries(
        &self,
        call: &RestCall,
        context: CallContext<'_>,
        retries: &mut u32,
    ) -> Result<Json, TelnyxError> {
        loop {
            let left = context.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TelnyxError::DeadlineExhausted);
            }
            let timeout = left.min(self.timeout);
            let (error, retry_after) = match self
                .attempt(call, timeout, context.operation, context.traceparent)
                .await
            {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let retryable = match &error {
                TelnyxError::Api { status, .. } => {
                    // 429 means Telnyx did not act; other statuses are only
                    // safe to repeat when the request is idempotent.
                    is_retryable_status(*status) && (context.idempotent || *status == 429)
                }
                TelnyxError::Unreachable(_) => true,
                TelnyxError::Connection(_) => context.idempotent,
                TelnyxError::Timeout(_) => context.idempotent,
                TelnyxError::DeadlineExhausted
                | TelnyxError::MalformedBody(_)
                | TelnyxError::TooLarge { .. } => false,
            };
            if !retryable || *retries >= self.retry.max_retries {
                return Err(error);
            }
            let delay = self.retry.delay(*retries, retry_after);
            if Instant::now() + delay >= context.deadline {
                return Err(error);
            }
            tracing::warn!(
                operation = context.operation,
                retry = *retries + 1,
                delay_ms = delay.as_millis() as u64,
                %error,
                "retrying Telnyx call"
            );
            tokio::time::sleep(delay).await;
            *retries += 1;
        }
    }

    /// The URL of a call to `path` (segments already escaped).
    fn url_for(&self, path: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        url.set_path(&format!("{}{path}", self.base_path));
        url
    }

    async fn attempt(
        &self,
        call: &RestCall,
        timeout: Duration,
        operation: &str,
        traceparent: Option<&str>,
    ) -> Result<Json, (TelnyxError, Option<Duration>)> {
        let url = self.url_for(&call.path);
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json")
            .timeout(timeout);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| (classify(e, timeout), None))?;
        let status = response.status();
        let mut wait = retry_after(response.headers());
        if let Some(state) = RateLimitState::read(status.as_u16(), response.headers(), wait) {
            self.observer.rate_limit(operation, state);
            // A 429 naming only its reset is retried at the reset, not sooner.
            if status.as_u16() == 429 {
                wait = wait.or(state.exhausted_for());
            }
        }
        let body = read_capped(response, self.max_response_bytes, timeout)
            .await
            .map_err(|e| (e, None))?;
        if status.is_success() {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Json::Null);
            }
            return serde_json::from_slice(&body)
                .map_err(|e| (TelnyxError::MalformedBody(e.to_string()), None));
        }
        let errors = ApiError::parse_body(&body);
        Err((
            TelnyxError::Api {
                status: status.as_u16(),
                errors,
            },
            wait,
        ))
    }
}

/// `base` without query or fragment: a call's own path and query replace
/// them.
fn base_url(base: &reqwest::Url) -> reqwest::Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Reads an answer's body, refusing it as soon as it is known to exceed
/// `limit`: by its declared length before reading anything, or while it
/// streams in; never more than `limit` bytes are held.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, TelnyxError> {
    let too_large = || TelnyxError::TooLarge { limit };
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| classify(error, timeout))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// HTTP statuses as metric labels, without allocating for the common ones.
fn status_label(status: u16) -> &'static str {
    match status {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        409 => "409",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ if status < 500 => "4xx",
        _ => "5xx",
    }
}

fn classify(error: reqwest::Error, timeout: Duration) -> TelnyxError {
    if error.is_timeout() {
        return TelnyxError::Timeout(timeout);
    }
    // The URL is left out (it is ours, the message is for the caller); the
    // causes are kept, since "error sending request" alone says nothing.
    let connect = error.is_connect();
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if connect {
        // Nothing was sent, so even a POST without a command_id may be retried.
        TelnyxError::Unreachable(message)
    } else {
        TelnyxError::Connection(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::NoObserver;

    fn config(key: &str) -> TelnyxConfig {
        TelnyxConfig {
            api_key: SecretString::from(key),
            base_url: "http://127.0.0.1:9/v2".parse().unwrap(),
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            retry: RetryPolicy { max_retries: 0 },
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// A server that answers every request 200 with `chunks` chunks of 64
    /// KiB, chunked (no declared length), or with a declared length when
    /// `declare` is set. Its address.
    async fn streaming_server(chunks: usize, declare: bool) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let chunk = vec![b' '; 64 * 1024];
                    let head = if declare {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            chunks * chunk.len()
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_owned()
                    };
                    if stream.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    for _ in 0..chunks {
                        let written = if declare {
                            stream.write_all(&chunk).await
                        } else {
                            let framed =
                                [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"]
                                    .concat();
                            stream.write_all(&framed).await
                        };
                        if written.is_err() {
                            return;
                        }
                    }
                    if !declare {
                        let _ = stream.write_all(b"0\r\n\r\n").await;
                    }
                });
            }
        });
        format!("http://{address}/v2")
    }

    async fn get_with_cap(base_url: String, limit: usize) -> Result<Json, TelnyxError> {
        let mut config = config("KEY");
        config.base_url = base_url.parse().unwrap();
        config.timeout = Duration::from_secs(10);
        config.max_response_bytes = limit;
        let client = TelnyxClient::new(&config, Arc::new(NoObserver)).unwrap();
        let call = RestCall {
            method: reqwest::Method::GET,
            path: "/conferences".to_owned(),
            query: Vec::new(),
            body: None,
        };
        client
            .send(
                &call,
                CallContext {
                    operation: "ListConferences",
                    idempotent: true,
                    deadline: Instant::now() + Duration::from_secs(10),
                    traceparent: None,
                },
            )
            .await
    }

    #[tokio::test]
    async fn an_answer_beyond_the_cap_is_refused_declared_or_streamed() {
        // 20 MiB against a 1 MiB cap, with and without a declared length.
        for declare in [true, false] {
            let url = streaming_server(320, declare).await;
            let error = get_with_cap(url, 1024 * 1024).await.unwrap_err();
            assert!(
                matches!(error, TelnyxError::TooLarge { limit: 1_048_576 }),
                "{error}"
            );
            assert_eq!(
                error.to_string(),
                "Telnyx answered with more than 1048576 bytes (TELNYX_MAX_RESPONSE_BYTES); the \
                 answer was dropped"
            );
        }
        // Within the cap, the same answer is read (white space: JSON null).
        let url = streaming_server(4, false).await;
        assert_eq!(get_with_cap(url, 1024 * 1024).await.unwrap(), Json::Null);
    }

    #[test]
    fn a_calls_path_goes_below_the_base_paths_with_or_without_a_slash() {
        let path = "/conferences/a%2Fb%20c%3F/actions/end";
        for (base, expected) in [
            ("https://api.telnyx.com/v2", "https://api.telnyx.com/v2"),
            ("https://api.telnyx.com/v2/", "https://api.telnyx.com/v2"),
            ("http://127.0.0.1:9", "http://127.0.0.1:9"),
            ("http://127.0.0.1:9/", "http://127.0.0.1:9"),
            ("http://127.0.0.1:9/v2?x=1#f", "http://127.0.0.1:9/v2"),
        ] {
            let mut config = config("KEY");
            config.base_url = base.parse().unwrap();
            let client = TelnyxClient::new(&config, Arc::new(NoObserver)).unwrap();
            assert_eq!(
                client.url_for(path).as_str(),
                format!("{expected}{path}"),
                "{base}"
            );
        }
    }

    #[test]
    fn a_key_with_a_trailing_newline_is_trimmed() {
        let client = TelnyxClient::new(&config("KEY123\n"), Arc::new(NoObserver)).unwrap();
        assert_eq!(client.authorization.to_str().unwrap(), "Bearer KEY123");
        assert!(client.authorization.is_sensitive());
    }

    #[test]
    fn a_key_no_header_can_carry_is_refused() {
        let error = TelnyxClient::new(&config("KEY\n123"), Arc::new(NoObserver)).unwrap_err();
        assert!(matches!(error, ClientError::InvalidApiKey));
        assert!(error.to_string().starts_with("TELNYX_API_KEY"));
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let client = TelnyxClient::new(&config("KEY-secret-abc"), Arc::new(NoObserver)).unwrap();
        assert!(!format!("{client:?}").contains("secret"));
    }
}
