//! The policy file, loaded at start and re-read when it changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::AuthError;
use super::policy::{Format, Policy};

/// How often the policy file is checked for changes: an edit applies within
/// this long (a mounted ConfigMap is swapped by symlink, which watchers miss).
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The policy in force, if one is configured (`GATEWAY_AUTH_POLICY_FILE`).
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    inner: Option<Arc<Watched>>,
}

#[derive(Debug)]
struct Watched {
    path: PathBuf,
    /// The API's RPCs, which every method pattern must match one of.
    methods: Vec<String>,
    current: RwLock<Arc<Policy>>,
    /// The text last read, good or not, to notice changes.
    seen: RwLock<String>,
}

impl AccessPolicy {
    /// Reads the policy file, if one is given; a file that cannot be read or
    /// used stops the start, naming the problem.
    pub fn load(path: Option<PathBuf>, methods: Vec<String>) -> Result<Self, AuthError> {
        let Some(path) = path else {
            return Ok(AccessPolicy::default());
        };
        let text = read(&path)?;
        let policy = Policy::parse(&text, Format::of(&path), &origin(&path), &methods)?;
        tracing::info!(callers = policy.len(), path = %path.display(), "access policy loaded");
        Ok(AccessPolicy {
            inner: Some(Arc::new(Watched {
                path,
                methods,
                current: RwLock::new(Arc::new(policy)),
                seen: RwLock::new(text),
            })),
        })
    }

    /// The policy in force now; `None` when none is configured (every
    /// authenticated caller may do everything, as without this feature).
    pub fn current(&self) -> Option<Arc<Policy>> {
        let watched = self.inner.as_ref()?;
        Some(Arc::clone(
            &watched.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    /// Re-reads the file until `stop` completes. A file that cannot be read or
    /// parsed keeps the last good policy in force and is logged once per edit:
    /// a typo must neither lock every caller out nor open the gateway.
    pub async fn watch(self, stop: impl std::future::Future<Output = ()>) {
        let Some(watched) = self.inner else {
            return;
        };
        let mut interval = tokio::time::interval(RELOAD_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = interval.tick() => {}
            }
            watched.reload();
        }
    }
}

impl Watched {
    fn reload(&self) {
        let text = match read(&self.path) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, "cannot re-read the access policy; keeping the current one");
                return;
            }
        };
        if *self.seen.read().unwrap_or_else(|e| e.into_inner()) == text {
            return;
        }
        *self.seen.write().unwrap_or_else(|e| e.into_inner()) = text.clone();
        match Policy::parse(
            &text,
            Format::of(&self.path),
            &origin(&self.path),
            &self.methods,
        ) {
            Ok(policy) => {
                tracing::info!(callers = policy.len(), "access policy reloaded");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
            }
            Err(error) => {
                tracing::error!(%error, "the edited access policy is invalid; keeping the last good one");
            }
        }
    }
}

fn read(path: &Path) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|source| AuthError::PolicyUnreadable {
        path: path.display().to_string(),
        source,
    })
}

fn origin(path: &Path) -> String {
    format!("GATEWAY_AUTH_POLICY_FILE {}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods() -> Vec<String> {
        vec!["conference_gateway.v1.CallService/Dial".to_owned()]
    }

    #[test]
    fn a_broken_edit_keeps_the_last_good_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "callers:\n  a:\n    allow: [\"*\"]\n").unwrap();
        let access = AccessPolicy::load(Some(path.clone()), methods()).unwrap();
        let watched = access.inner.as_ref().unwrap();

        std::fs::write(&path, "callers:\n  a:\n    allow: [\"*\"\n").unwrap();
        watched.reload();
        assert!(access.current().unwrap().knows("a"));

        std::fs::write(&path, "callers:\n  b:\n    allow: [\"*\"]\n").unwrap();
        watched.reload();
        let policy = access.current().unwrap();
        assert!(policy.knows("b") && !policy.knows("a"));

        std::fs::remove_file(&path).unwrap();
        watched.reload();
        assert!(access.current().unwrap().knows("b"));
    }

    #[test]
    fn a_bad_file_at_start_is_refused_naming_the_setting() {
        let error = AccessPolicy::load(Some("/nonexistent/p.yaml".into()), methods())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("GATEWAY_AUTH_POLICY_FILE /nonexistent/p.yaml"),
            "{error}"
        );
        assert!(
            AccessPolicy::load(None, methods())
                .unwrap()
                .current()
                .is_none()
        );
    }
}
