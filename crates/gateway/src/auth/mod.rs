//! Caller authentication: only known internal services may use the gateway,
//! because it holds the company's Telnyx key.
//!
//! Callers send `authorization: Bearer <token>`. Tokens come from
//! `GATEWAY_AUTH_TOKENS` and/or `GATEWAY_AUTH_TOKENS_FILE`; the file is
//! re-read when it changes, so a Kubernetes Secret can rotate tokens without
//! a restart. The caller's name, never its token, is what logs, spans and
//! metrics see.
//!
//! What an authenticated caller may do is the access policy's business
//! (`GATEWAY_AUTH_POLICY_FILE`, see [`policy`]): without one, every caller may
//! do everything.

mod access;
pub mod identity;
pub mod policy;
mod tokens;

use std::{
    path::PathBuf,
    sync::{Arc, RwLock},
    time::Duration,
};

use tonic::Status;

pub use access::AccessPolicy;
pub use policy::{Denied, Policy, PolicyError, Resource, Rules};
pub use tokens::{TokenError, TokenSet};

/// How often the tokens file is checked for changes. Kubernetes updates a
/// mounted Secret by swapping a symlink, which file watchers miss; a cheap
/// periodic read never does.
const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// Who made a call, as configured (`billing` in `billing:<token>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Arc<str>);

impl Caller {
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// Why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no caller tokens configured: set GATEWAY_AUTH_TOKENS or GATEWAY_AUTH_TOKENS_FILE \
         (or GATEWAY_ALLOW_UNAUTHENTICATED=true to run without authentication)"
    )]
    NoTokens,
    #[error(transparent)]
    Malformed(#[from] TokenError),
    #[error("GATEWAY_AUTH_TOKENS_FILE {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("GATEWAY_AUTH_POLICY_FILE {path}: {source}")]
    PolicyUnreadable {
        path: String,
        source: std::io::Error,
    },
}

/// The gRPC interceptor that checks bearer tokens.
#[derive(Debug, Clone)]
pub struct Authenticator {
    inner: Option<Arc<Tokens>>,
}

#[derive(Debug)]
struct Tokens {
    listed: TokenSet,
    file: Option<PathBuf>,
    /// The listed tokens merged with the file's, swapped whole on reload.
    current: RwLock<Arc<TokenSet>>,
    /// The file content last loaded, to notice changes.
    loaded: RwLock<String>,
}

impl Authenticator {
    /// Reads the configured tokens. With none configured this refuses, unless
    /// unauthenticated access was asked for explicitly.
    pub fn new(
        list: Option<&str>,
        file: Option<PathBuf>,
        allow_unauthenticated: bool,
    ) -> Result<Self, AuthError> {
        let listed = match list {
            Some(list) => TokenSet::parse_list(list, "GATEWAY_AUTH_TOKENS")?,
            None => TokenSet::default(),
        };
        let (from_file, text) = match &file {
            Some(path) => {
                let text = read(path)?;
                (TokenSet::parse_file(&text, &origin(path))?, text)
            }
            None => (TokenSet::default(), String::new()),
        };
        let all = listed.merged(&from_file);
        if all.is_empty() && file.is_none() {
            if allow_unauthenticated {
                tracing::warn!(
                    "GATEWAY_ALLOW_UNAUTHENTICATED=true: every caller may use the gateway and its Telnyx key"
                );
                return Ok(Authenticator { inner: None });
            }
            return Err(AuthError::NoTokens);
        }
        Ok(Authenticator {
            inner: Some(Arc::new(Tokens {
                listed,
                file,
                current: RwLock::new(Arc::new(all)),
                loaded: RwLock::new(text),
            })),
        })
    }

    /// Whether calls are checked at all.
    pub fn is_enforcing(&self) -> bool {
        self.inner.is_some()
    }

    /// Re-reads the tokens file until `stop` completes. A file that cannot be
    /// read or parsed leaves the current tokens in place (and says so): a bad
    /// rotation must not lock every caller out.
    pub async fn watch(self, stop: impl std::future::Future<Output = ()>) {
        let Some(tokens) = self.inner.filter(|t| t.file.is_some()) else {
            return;
        };
        let path = tokens.file.clone().unwrap_or_default();
        let mut interval = tokio::time::interval(RELOAD_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = interval.tick() => {}
            }
            let text = match read(&path) {
                Ok(text) => text,
                Err(error) => {
                    tracing::error!(%error, "cannot re-read caller tokens; keeping the current ones");
                    continue;
                }
            };
            if *tokens.loaded.read().unwrap_or_else(|e| e.into_inner()) == text {
                continue;
            }
            match TokenSet::parse_file(&text, &origin(&path)) {
                Ok(from_file) => {
                    let all = tokens.listed.merged(&from_file);
                    tracing::info!(callers = all.len(), "caller tokens reloaded");
                    *tokens.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(all);
                    *tokens.loaded.write().unwrap_or_else(|e| e.into_inner()) = text;
                }
                Err(error) => {
                    tracing::error!(%error, "caller tokens file is malformed; keeping the current tokens");
                }
            }
        }
    }

    /// The caller a set of request headers authenticates as.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Status> {
        let Some(tokens) = &self.inner else {
            return Ok(Caller(Arc::from("anonymous")));
        };
        let presented = authorization
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| {
                Status::unauthenticated("missing `authorization: Bearer <token>` metadata")
            })?;
        let current = Arc::clone(&tokens.current.read().unwrap_or_else(|e| e.into_inner()));
        current
            .caller(presented)
            .map(|name| Caller(Arc::from(name)))
            .ok_or_else(|| Status::unauthenticated("unknown caller token"))
    }
}

fn read(path: &PathBuf) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|source| AuthError::Unreadable {
        path: path.display().to_string(),
        source,
    })
}

fn origin(path: &std::path::Path) -> String {
    format!("GATEWAY_AUTH_TOKENS_FILE {}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "billing-token-0123456789";

    #[test]
    fn refuses_to_start_without_tokens_unless_told() {
        let error = Authenticator::new(None, None, false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("GATEWAY_AUTH_TOKENS or GATEWAY_AUTH_TOKENS_FILE"),
            "{error}"
        );
        let open = Authenticator::new(None, None, true).unwrap();
        assert!(!open.is_enforcing());
        assert_eq!(open.authenticate(None).unwrap().name(), "anonymous");
    }

    #[test]
    fn checks_bearer_tokens() {
        let auth = Authenticator::new(Some(&format!("billing:{TOKEN}")), None, false).unwrap();
        assert_eq!(
            auth.authenticate(Some(&format!("Bearer {TOKEN}")))
                .unwrap()
                .name(),
            "billing"
        );
        assert_eq!(
            auth.authenticate(Some(&format!("bearer {TOKEN}")))
                .unwrap()
                .name(),
            "billing"
        );
        for bad in [
            None,
            Some("Bearer nope-nope-nope-nope"),
            Some(TOKEN),
            Some("Basic abc"),
        ] {
            assert_eq!(
                auth.authenticate(bad).unwrap_err().code(),
                tonic::Code::Unauthenticated
            );
        }
    }
}
