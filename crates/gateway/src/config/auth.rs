//! Who may call the gateway.

use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;

/// Callers' bearer tokens, from a variable, a file, or both.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Callers")]
pub struct AuthSettings {
    /// Callers allowed to use the gateway: comma-separated `name:token` pairs.
    #[arg(global = true, long = "auth-tokens", env = "GATEWAY_AUTH_TOKENS", value_name = "GATEWAY_AUTH_TOKENS", value_parser = super::parse_secret, hide_env_values = true)]
    pub tokens: Option<SecretString>,

    /// A file of `name:token` lines (`#` comments), re-read when it changes.
    #[arg(
        global = true,
        long = "auth-tokens-file",
        env = "GATEWAY_AUTH_TOKENS_FILE",
        value_name = "GATEWAY_AUTH_TOKENS_FILE"
    )]
    pub tokens_file: Option<PathBuf>,

    /// Per-caller permissions and rate limits (YAML, or TOML for `.toml`),
    /// re-read when it changes. Unset: every caller may call every RPC.
    #[arg(
        global = true,
        long = "auth-policy-file",
        env = "GATEWAY_AUTH_POLICY_FILE",
        value_name = "GATEWAY_AUTH_POLICY_FILE"
    )]
    pub policy_file: Option<PathBuf>,

    /// Run without caller authentication (a warning is logged at start).
    #[arg(global = true, long = "allow-unauthenticated", env = "GATEWAY_ALLOW_UNAUTHENTICATED", value_name = "GATEWAY_ALLOW_UNAUTHENTICATED", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_unauthenticated: bool,
}
