//! How the gateway reaches Telnyx's REST API.

use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use telnyx_client::{RetryPolicy, TelnyxConfig};

use super::ConfigError;

/// Telnyx's REST API: the key, where it is, how long and how often to try.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Telnyx")]
pub struct TelnyxSettings {
    /// Telnyx API key the gateway calls Telnyx with (never logged). Surrounding
    /// white space, such as a Secret file's trailing newline, is ignored.
    #[arg(long = "telnyx-api-key", env = "TELNYX_API_KEY", value_name = "TELNYX_API_KEY", value_parser = super::parse_secret, hide_env_values = true)]
    pub api_key: Option<SecretString>,

    /// Base URL of Telnyx's REST API.
    #[arg(
        long = "telnyx-base-url",
        env = "TELNYX_BASE_URL",
        value_name = "TELNYX_BASE_URL",
        default_value = "https://api.telnyx.com/v2"
    )]
    pub base_url: reqwest::Url,

    /// Upper bound, in seconds, for one request to Telnyx; a caller's shorter
    /// gRPC deadline wins.
    #[arg(global = true, long = "telnyx-timeout-secs", env = "TELNYX_TIMEOUT_SECS", value_name = "TELNYX_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout_secs: u64,

    /// How many times a failed Telnyx request is retried (408, 409, 429, 5xx,
    /// connection errors), with capped, jittered backoff.
    #[arg(global = true, long = "telnyx-max-retries", env = "TELNYX_MAX_RETRIES", value_name = "TELNYX_MAX_RETRIES", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub max_retries: u32,

    /// Largest Telnyx answer read, in bytes; a larger one is refused (the
    /// call fails with INTERNAL naming this setting) without being held.
    #[arg(global = true, long = "telnyx-max-response-bytes", env = "TELNYX_MAX_RESPONSE_BYTES", value_name = "TELNYX_MAX_RESPONSE_BYTES", default_value_t = telnyx_client::DEFAULT_MAX_RESPONSE_BYTES as u64, value_parser = clap::value_parser!(u64).range(65_536..=1_073_741_824))]
    pub max_response_bytes: u64,
}

impl TelnyxSettings {
    /// The key, trimmed; refused when missing, empty, or unfit for an HTTP
    /// header (every call would otherwise fail as INTERNAL).
    pub fn api_key(&self) -> Result<SecretString, ConfigError> {
        let key = self.api_key.as_ref().ok_or(ConfigError::MissingApiKey)?;
        let key = key.expose_secret().trim();
        if key.is_empty() {
            return Err(ConfigError::MissingApiKey);
        }
        if key
            .bytes()
            .any(|byte| byte.is_ascii_control() || byte >= 0x80)
        {
            return Err(ConfigError::InvalidApiKey);
        }
        Ok(SecretString::from(key))
    }

    /// The Telnyx client's settings.
    pub fn client(&self) -> Result<TelnyxConfig, ConfigError> {
        Ok(TelnyxConfig {
            api_key: self.api_key()?,
            base_url: self.base_url.clone(),
            timeout: Duration::from_secs(self.timeout_secs),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_retries: self.max_retries,
            },
            max_response_bytes: usize::try_from(self.max_response_bytes).unwrap_or(usize::MAX),
        })
    }
}
