//! Per-caller permissions: what each caller may call, see and act on.
//!
//! The policy file (`GATEWAY_AUTH_POLICY_FILE`, YAML, or TOML when its name
//! ends in `.toml`) is a contract other teams write, so every key is checked:
//! an unknown key, a pattern that names no RPC of the API or an event pattern
//! the Subscribe filter would refuse is an error naming where it is, rather
//! than a permission that silently never applies.
//!
//! ```yaml
//! callers:
//!   reporting:
//!     allow: ["*/Get*", "*/List*", "conference_gateway.v1.EventService/Subscribe"]
//!     events: ["call.hangup", "conference.*"]
//!   dialer:
//!     allow: ["conference_gateway.v1.CallService/Dial"]
//!     connections: ["1293384261075731461"]
//!     rate: {per_second: 5, burst: 10}
//!   operator:
//!     allow: ["*"]
//! ```
//!
//! Everything here is pure: parsing and matching, no I/O.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;

/// The whole policy: each caller's rules, by caller name.
#[derive(Debug, Default)]
pub struct Policy {
    callers: HashMap<String, Arc<Rules>>,
}

/// What one caller may do.
#[derive(Debug, Default, PartialEq)]
pub struct Rules {
    /// RPC patterns (`package.Service/Method`, `*` matches anything).
    allow: Vec<String>,
    /// Event types it may receive; `None`: every type.
    events: Option<Vec<EventPattern>>,
    /// Connection ids it may use (`connection_id` of Dial, ListActiveCalls); `None`: any.
    connections: Option<Vec<String>>,
    /// Queue names it may act on (`queue_name`); `None`: any.
    queues: Option<Vec<String>>,
    /// Call control application ids it may act on (`application_id`); `None`: any.
    applications: Option<Vec<String>>,
    /// Its request rate over all RPCs.
    pub rate: Option<Rate>,
    /// Further rates for the RPCs matching their patterns.
    pub rates: Vec<MethodRate>,
}

/// A token bucket's size: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// A rate that applies only to the RPCs matching `methods`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodRate {
    pub methods: Vec<String>,
    pub per_second: f64,
    pub burst: u32,
}

impl MethodRate {
    pub fn rate(&self) -> Rate {
        Rate {
            per_second: self.per_second,
            burst: self.burst,
        }
    }

    pub fn applies_to(&self, method: &str) -> bool {
        self.methods.iter().any(|p| glob(p, method))
    }
}

/// An event type pattern, as the Subscribe filter reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EventPattern {
    All,
    Exact(String),
    /// `conference.*`, kept as `conference.`.
    Prefix(String),
}

/// A kind of resource a caller can be restricted to, by the request field
/// that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Connection,
    Queue,
    Application,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Connection, Resource::Queue, Resource::Application];

    /// The request field that names this resource, in every RPC that has one.
    pub fn field(self) -> &'static str {
        match self {
            Resource::Connection => "connection_id",
            Resource::Queue => "queue_name",
            Resource::Application => "application_id",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Resource::Connection => "connection",
            Resource::Queue => "queue",
            Resource::Application => "call control application",
        }
    }
}

/// A refusal, worded for the caller: it names the permission that is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub message: String,
    /// The metrics' `reason`: `method`, `resource`, `events` or `unknown_caller`.
    pub reason: &'static str,
}

/// A policy file that cannot be used; says where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct PolicyError {
    pub origin: String,
    pub problem: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    callers: BTreeMap<String, CallerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerEntry {
    #[serde(default)]
    allow: Vec<String>,
    events: Option<Vec<String>>,
    connections: Option<Vec<String>>,
    queues: Option<Vec<String>>,
    applications: Option<Vec<String>>,
    rate: Option<Rate>,
    #[serde(default)]
    rates: Vec<MethodRate>,
}

/// The file's format, by its name: TOML for `.toml`, YAML otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
}

impl Format {
    pub fn of(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("toml") => Format::Toml,
            _ => Format::Yaml,
        }
    }
}

impl Policy {
    /// Reads a policy. `methods` are the API's RPCs (`package.Service/Method`):
    /// an `allow` or `rates` pattern must match at least one of them.
    pub fn parse(
        text: &str,
        format: Format,
        origin: &str,
        methods: &[String],
    ) -> Result<Policy, PolicyError> {
        let error = |problem: String| PolicyError {
            origin: origin.to_owned(),
            problem,
        };
        let file: PolicyFile = match format {
            Format::Yaml => serde_norway::from_str(text).map_err(|e| error(e.to_string()))?,
            Format::Toml => {
                toml::from_str(text).map_err(|e| error(e.to_string().trim().replace('\n', " ")))?
            }
        };
        let mut callers = HashMap::new();
        for (name, entry) in file.callers {
            let at = |key: &str| format!("callers.{name}.{key}");
            if name.trim().is_empty() {
                return Err(error("a caller's name is empty".to_owned()));
            }
            for (key, patterns) in std::iter::once(("allow", &entry.allow))
                .chain(entry.rates.iter().map(|r| ("rates.methods", &r.methods)))
            {
                for pattern in patterns {
                    check_method_pattern(pattern, methods)
                        .map_err(|p| error(format!("{}: {p}", at(key))))?;
                }
            }
            let rates = entry.rates.iter().map(MethodRate::rate);
            for rate in entry.rate.iter().copied().chain(rates) {
                check_rate(rate).map_err(|p| error(format!("{}: {p}", at("rate"))))?;
            }
            let events = entry
                .events
                .map(|list| {
                    list.iter()
                        .map(|p| parse_event_pattern(p))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(|p| error(format!("{}: {p}", at("events"))))?;
            for (key, list) in [
                ("connections", &entry.connections),
                ("queues", &entry.queues),
                ("applications", &entry.applications),
            ] {
                if list.iter().flatten().any(|v| v.trim().is_empty()) {
                    return Err(error(format!("{}: an entry is empty", at(key))));
                }
            }
            let rules = Rules {
                allow: entry.allow,
                events,
                connections: entry.connections,
                queues: entry.queues,
                applications: entry.applications,
                rate: entry.rate,
                rates: entry.rates,
            };
            callers.insert(name, Arc::new(rules));
        }
        Ok(Policy { callers })
    }

    /// The rules of `caller`, or why it may do nothing.
    pub fn rules(&self, caller: &str) -> Result<Arc<Rules>, Denied> {
        self.callers.get(caller).cloned().ok_or_else(|| Denied {
            message: format!("caller {caller:?} is not in the access policy"),
            reason: "unknown_caller",
        })
    }

    /// Whether `name` is a caller of the policy.
    pub fn knows(&self, name: &str) -> bool {
        self.callers.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.callers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.callers.is_empty()
    }
}

impl Rules {
    /// Whether the caller may call `method` (`package.Service/Method`).
    pub fn check_method(&self, caller: &str, method: &str) -> Result<(), Denied> {
        if self.allow.iter().any(|p| glob(p, method)) {
            return Ok(());
        }
        Err(Denied {
            message: format!("caller {caller:?} may not call {method}"),
            reason: "method",
        })
    }

    /// Whether the caller may act on `value`, a resource of kind `resource`
    /// named by the request. An empty value names nothing and passes.
    pub fn check_resource(
        &self,
        caller: &str,
        resource: Resource,
        value: &str,
    ) -> Result<(), Denied> {
        let allowed = match resource {
            Resource::Connection => &self.connections,
            Resource::Queue => &self.queues,
            Resource::Application => &self.applications,
        };
        match allowed {
            Some(list) if !value.is_empty() && !list.iter().any(|v| v == value) => Err(Denied {
                message: format!(
                    "caller {caller:?} may not use {} {value:?}",
                    resource.noun()
                ),
                reason: "resource",
            }),
            _ => Ok(()),
        }
    }

    /// The event type patterns a subscription of this caller gets: those it
    /// asked for (`*` or none: every type), narrowed to those it may see.
    /// Refused when nothing it asked for is allowed, rather than opening a
    /// stream that can never carry an event.
    pub fn event_types(&self, caller: &str, requested: &[String]) -> Result<Vec<String>, Denied> {
        let asked_all = requested.is_empty() || requested.iter().any(|p| p == "*");
        let Some(allowed) = self
            .events
            .as_ref()
            .filter(|a| !a.contains(&EventPattern::All))
        else {
            return Ok(if asked_all {
                Vec::new()
            } else {
                requested.to_vec()
            });
        };
        let mut narrowed: Vec<String> = Vec::new();
        let mut add = |pattern: String| {
            if !narrowed.contains(&pattern) {
                narrowed.push(pattern);
            }
        };
        if asked_all {
            allowed.iter().for_each(|a| add(render(a)));
        } else {
            for asked in requested {
                // A pattern the filter would refuse goes through untouched,
                // so the caller learns what is wrong with it.
                let Ok(asked_pattern) = parse_event_pattern(asked) else {
                    add(asked.clone());
                    continue;
                };
                for a in allowed {
                    if let Some(both) = intersect(&asked_pattern, a) {
                        add(render(&both));
                    }
                }
            }
        }
        if narrowed.is_empty() {
            let may = allowed.iter().map(render).collect::<Vec<_>>().join(", ");
            return Err(Denied {
                message: format!(
                    "caller {caller:?} may not receive any of the event types it asked for (it may receive: {may})"
                ),
                reason: "events",
            });
        }
        Ok(narrowed)
    }
}

fn render(pattern: &EventPattern) -> String {
    match pattern {
        EventPattern::All => "*".to_owned(),
        EventPattern::Exact(name) => name.clone(),
        EventPattern::Prefix(prefix) => format!("{prefix}*"),
    }
}

/// The events both patterns match, as one pattern, if any.
fn intersect(a: &EventPattern, b: &EventPattern) -> Option<EventPattern> {
    use EventPattern::{All, Exact, Prefix};
    match (a, b) {
        (All, other) | (other, All) => Some(other.clone()),
        (Exact(x), Exact(y)) => (x == y).then(|| a.clone()),
        (Exact(x), Prefix(p)) | (Prefix(p), Exact(x)) => {
            x.starts_with(p.as_str()).then(|| Exact(x.clone()))
        }
        (Prefix(p), Prefix(q)) if p.starts_with(q.as_str()) => Some(a.clone()),
        (Prefix(p), Prefix(q)) if q.starts_with(p.as_str()) => Some(b.clone()),
        (Prefix(_), Prefix(_)) => None,
    }
}

fn parse_event_pattern(pattern: &str) -> Result<EventPattern, String> {
    if pattern == "*" {
        return Ok(EventPattern::All);
    }
    let (name, prefix) = match pattern.strip_suffix(".*") {
        Some(stem) => (stem, true),
        None => (pattern, false),
    };
    let valid_segment = |segment: &str| {
        !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if !name.split('.').all(valid_segment) {
        return Err(format!(
            "{pattern:?} is not an event type (`call.hangup`), a prefix ending in `.*` (`conference.*`) or `*`"
        ));
    }
    Ok(if prefix {
        EventPattern::Prefix(format!("{name}."))
    } else {
        EventPattern::Exact(name.to_owned())
    })
}

fn check_method_pattern(pattern: &str, methods: &[String]) -> Result<(), String> {
    let valid = !pattern.is_empty()
        && pattern
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'*' | b'_'));
    if !valid {
        return Err(format!(
            "{pattern:?} is not an RPC pattern (`conference_gateway.v1.CallService/Dial`, `*/Get*`, `*`)"
        ));
    }
    if !methods.iter().any(|m| glob(pattern, m)) {
        return Err(format!(
            "{pattern:?} matches no RPC of the API (RPCs are named `conference_gateway.v1.CallService/Dial`)"
        ));
    }
    Ok(())
}

fn check_rate(rate: Rate) -> Result<(), String> {
    if !(rate.per_second.is_finite() && rate.per_second > 0.0) {
        return Err(format!(
            "per_second must be above 0, not {}",
            rate.per_second
        ));
    }
    if rate.burst == 0 {
        return Err("burst must be at least 1".to_owned());
    }
    Ok(())
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters
/// (`/` and `.` included) and everything else only itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIAL: &str = "conference_gateway.v1.CallService/Dial";
    const GET_CONF: &str = "conference_gateway.v1.ConferenceService/GetConference";
    const LIST_QUEUES: &str = "conference_gateway.v1.QueueService/ListQueues";
    const SUBSCRIBE: &str = "conference_gateway.v1.EventService/Subscribe";
    const HANGUP: &str = "conference_gateway.v1.CallService/Hangup";

    const EXAMPLE: &str = r#"
callers:
  reporting:
    allow: ["*/Get*", "*/List*", "conference_gateway.v1.EventService/Subscribe"]
    events: ["call.hangup", "conference.*"]
  dialer:
    allow: ["conference_gateway.v1.CallService/Dial"]
    connections: ["1293384261075731461"]
    rate: {per_second: 5, burst: 10}
  operator:
    allow: ["*"]
"#;

    fn methods() -> Vec<String> {
        [DIAL, GET_CONF, LIST_QUEUES, SUBSCRIBE, HANGUP]
            .map(str::to_owned)
            .to_vec()
    }

    fn example() -> Policy {
        Policy::parse(EXAMPLE, Format::Yaml, "policy.yaml", &methods()).unwrap()
    }

    #[test]
    fn globs_match_any_run_of_characters() {
        assert!(glob("*", DIAL));
        assert!(glob("*/Get*", GET_CONF));
        assert!(!glob("*/Get*", DIAL));
        assert!(glob("conference_gateway.v1.CallService/*", DIAL));
        assert!(!glob("conference_gateway.v1.CallService/*", GET_CONF));
        assert!(glob(DIAL, DIAL));
        assert!(!glob(DIAL, "conference_gateway.v1.CallService/Dial2"));
        assert!(glob("*Service/*a*", DIAL));
        assert!(!glob("", DIAL));
        assert!(glob("**", ""));
    }

    #[test]
    fn the_issues_example_allows_and_refuses_as_it_says() {
        let policy = example();
        let reporting = policy.rules("reporting").unwrap();
        assert!(reporting.check_method("reporting", GET_CONF).is_ok());
        assert!(reporting.check_method("reporting", LIST_QUEUES).is_ok());
        assert!(reporting.check_method("reporting", SUBSCRIBE).is_ok());
        let denied = reporting.check_method("reporting", DIAL).unwrap_err();
        assert_eq!(
            denied.message,
            r#"caller "reporting" may not call conference_gateway.v1.CallService/Dial"#
        );
        assert_eq!(denied.reason, "method");

        let dialer = policy.rules("dialer").unwrap();
        assert!(dialer.check_method("dialer", DIAL).is_ok());
        assert!(dialer.check_method("dialer", HANGUP).is_err());
        assert!(
            dialer
                .check_resource("dialer", Resource::Connection, "1293384261075731461")
                .is_ok()
        );
        let denied = dialer
            .check_resource("dialer", Resource::Connection, "999")
            .unwrap_err();
        assert_eq!(
            denied.message,
            r#"caller "dialer" may not use connection "999""#
        );
        // Queues are not restricted for it.
        assert!(
            dialer
                .check_resource("dialer", Resource::Queue, "q")
                .is_ok()
        );
        assert_eq!(
            dialer.rate,
            Some(Rate {
                per_second: 5.0,
                burst: 10
            })
        );

        let operator = policy.rules("operator").unwrap();
        for method in methods() {
            assert!(operator.check_method("operator", &method).is_ok());
        }
        assert_eq!(
            policy.rules("stranger").unwrap_err().reason,
            "unknown_caller"
        );
    }

    #[test]
    fn toml_reads_the_same() {
        let toml = r#"
[callers.reporting]
allow = ["*/Get*", "*/List*", "conference_gateway.v1.EventService/Subscribe"]
events = ["call.hangup", "conference.*"]

[callers.dialer]
allow = ["conference_gateway.v1.CallService/Dial"]
connections = ["1293384261075731461"]
rate = { per_second = 5, burst = 10 }

[callers.operator]
allow = ["*"]
"#;
        let policy = Policy::parse(toml, Format::Toml, "policy.toml", &methods()).unwrap();
        for name in ["reporting", "dialer", "operator"] {
            assert_eq!(policy.rules(name).unwrap(), example().rules(name).unwrap());
        }
        assert_eq!(Format::of("/etc/p.TOML".as_ref()), Format::Toml);
        assert_eq!(Format::of("/etc/p.yaml".as_ref()), Format::Yaml);
    }

    #[test]
    fn subscriptions_are_narrowed_to_what_the_caller_may_see() {
        let policy = example();
        let reporting = policy.rules("reporting").unwrap();
        let ask = |types: &[&str]| {
            let types: Vec<String> = types.iter().map(|s| (*s).to_owned()).collect();
            reporting.event_types("reporting", &types)
        };
        assert_eq!(ask(&["*"]).unwrap(), ["call.hangup", "conference.*"]);
        assert_eq!(ask(&[]).unwrap(), ["call.hangup", "conference.*"]);
        assert_eq!(ask(&["call.*"]).unwrap(), ["call.hangup"]);
        assert_eq!(
            ask(&["conference.participant.*", "call.hangup", "call.answered"]).unwrap(),
            ["conference.participant.*", "call.hangup"]
        );
        let denied = ask(&["call.answered"]).unwrap_err();
        assert_eq!(denied.reason, "events");
        assert!(
            denied.message.contains("call.hangup, conference.*"),
            "{denied}"
        );
        // Malformed patterns reach the filter, which says what is wrong.
        assert_eq!(ask(&["Bad"]).unwrap(), ["Bad"]);

        let operator = policy.rules("operator").unwrap();
        assert!(
            operator
                .event_types("operator", &["*".into()])
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            operator
                .event_types("operator", &["call.*".into()])
                .unwrap(),
            ["call.*"]
        );
    }

    #[test]
    fn patterns_intersect() {
        use EventPattern::{All, Exact, Prefix};
        let p = |s: &str| Prefix(s.to_owned());
        let e = |s: &str| Exact(s.to_owned());
        assert_eq!(intersect(&All, &e("a.b")), Some(e("a.b")));
        assert_eq!(intersect(&p("a."), &p("a.b.")), Some(p("a.b.")));
        assert_eq!(intersect(&p("a.b."), &p("a.")), Some(p("a.b.")));
        assert_eq!(intersect(&p("a."), &p("b.")), None);
        assert_eq!(intersect(&e("a.b"), &p("a.")), Some(e("a.b")));
        assert_eq!(intersect(&e("ab"), &p("a.")), None);
        assert_eq!(intersect(&e("a"), &e("b")), None);
    }

    #[test]
    fn mistakes_are_refused_naming_where() {
        let parse = |text: &str| {
            Policy::parse(text, Format::Yaml, "policy.yaml", &methods())
                .unwrap_err()
                .to_string()
        };
        let error = parse("callers:\n  a:\n    allow: [\"*/Dail\"]\n");
        assert!(
            error.starts_with("policy.yaml: callers.a.allow: \"*/Dail\" matches no RPC"),
            "{error}"
        );
        let error = parse("callers:\n  a:\n    alow: [\"*\"]\n");
        assert!(error.contains("unknown field `alow`"), "{error}");
        let error = parse("callers:\n  a:\n    events: [\"Call.Hangup\"]\n");
        assert!(error.contains("callers.a.events"), "{error}");
        let error = parse("callers:\n  a:\n    rate: {per_second: 0, burst: 1}\n");
        assert!(
            error.contains("callers.a.rate: per_second must be above 0"),
            "{error}"
        );
        let error = parse("callers:\n  a:\n    rate: {per_second: 1, burst: 0}\n");
        assert!(error.contains("burst must be at least 1"), "{error}");
        let error = parse("callers:\n  a:\n    queues: [\"\"]\n");
        assert!(
            error.contains("callers.a.queues: an entry is empty"),
            "{error}"
        );
        let error = parse("nobody: here\n");
        assert!(error.contains("unknown field `nobody`"), "{error}");
        assert!(Policy::parse("[callers", Format::Toml, "p.toml", &methods()).is_err());
    }

    #[test]
    fn rates_per_method_apply_to_their_patterns() {
        let text = "callers:\n  a:\n    allow: [\"*\"]\n    rates:\n      - {methods: [\"*/Dial\"], per_second: 1, burst: 2}\n";
        let policy = Policy::parse(text, Format::Yaml, "p", &methods()).unwrap();
        let rules = policy.rules("a").unwrap();
        assert_eq!(rules.rates.len(), 1);
        assert!(rules.rates[0].applies_to(DIAL));
        assert!(!rules.rates[0].applies_to(HANGUP));
        assert_eq!(
            rules.rates[0].rate(),
            Rate {
                per_second: 1.0,
                burst: 2
            }
        );
    }
}
