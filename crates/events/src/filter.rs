//! A subscriber's filter, checked once per event and subscriber on the hot path.
//!
//! Patterns are parsed once at subscription into sets, so matching costs a
//! few hash lookups (one per segment of the event's type) however many
//! patterns the filter holds; the hub also uses the most selective id of a filter to index
//! subscribers, so an event is only checked against the subscribers that can
//! want it (see [`super::hub`]).

use std::collections::HashSet;

use super::model::Event;

/// Which events a subscriber receives. All given parts must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exact event types; with `prefixes` empty: every type.
    exact: HashSet<String>,
    /// `conference.*`, stored with its trailing dot: `conference.`.
    prefixes: HashSet<String>,
    pub conference_id: Option<String>,
    pub call_control_id: Option<String>,
    pub queue: Option<String>,
}

enum TypePattern {
    Exact(String),
    Prefix(String),
}

/// A filter that cannot be read; the field is named for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidFilter {
    pub field: &'static str,
    pub reason: String,
}

impl Filter {
    /// Reads a subscription request's filter. Empty strings mean "any".
    pub fn new(
        event_types: &[String],
        conference_id: &str,
        call_control_id: &str,
        queue: &str,
    ) -> Result<Self, InvalidFilter> {
        let mut exact = HashSet::new();
        let mut prefixes = HashSet::new();
        for pattern in event_types {
            match parse_pattern(pattern)? {
                TypePattern::Exact(name) => exact.insert(name),
                TypePattern::Prefix(prefix) => prefixes.insert(prefix),
            };
        }
        let given = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        Ok(Filter {
            exact,
            prefixes,
            conference_id: given(conference_id),
            call_control_id: given(call_control_id),
            queue: given(queue),
        })
    }

    /// Whether the subscriber wants this event.
    pub fn matches(&self, event: &Event) -> bool {
        let id_matches =
            |wanted: &Option<String>, actual: &str| wanted.as_deref().is_none_or(|w| w == actual);
        id_matches(&self.conference_id, &event.keys.conference_id)
            && id_matches(&self.call_control_id, &event.keys.call_control_id)
            && id_matches(&self.queue, &event.keys.queue)
            && self.wants_type(&event.event_type)
    }

    fn wants_type(&self, event_type: &str) -> bool {
        if self.exact.is_empty() && self.prefixes.is_empty() {
            return true;
        }
        self.exact.contains(event_type)
            || event_type
                .match_indices('.')
                .any(|(dot, _)| self.prefixes.contains(&event_type[..=dot]))
    }
}

fn parse_pattern(pattern: &str) -> Result<TypePattern, InvalidFilter> {
    let invalid = |reason: String| InvalidFilter {
        field: "event_types",
        reason,
    };
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
        return Err(invalid(format!(
            "{pattern:?} is not an event type (`conference.participant.joined`) or a prefix \
             ending in `.*` (`conference.*`)"
        )));
    }
    Ok(if prefix {
        TypePattern::Prefix(format!("{name}."))
    } else {
        TypePattern::Exact(name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::{Cursor, Position};
    use crate::model::Keys;

    fn event(event_type: &str, conference_id: &str) -> Event {
        Event {
            id: "e".into(),
            event_type: event_type.into(),
            keys: Keys {
                conference_id: conference_id.into(),
                ..Keys::default()
            },
            cursor: Cursor {
                epoch: 1,
                position: Position::new(1, 0),
            },
            encoded: Default::default(),
        }
    }

    fn types(patterns: &[&str]) -> Filter {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        Filter::new(&patterns, "", "", "").unwrap()
    }

    #[test]
    fn exact_prefix_and_empty() {
        let joined = event("conference.participant.joined", "c1");
        assert!(types(&[]).matches(&joined));
        assert!(types(&["conference.participant.joined"]).matches(&joined));
        assert!(types(&["conference.*"]).matches(&joined));
        assert!(types(&["conference.participant.*"]).matches(&joined));
        assert!(types(&["call.*", "conference.*"]).matches(&joined));
        assert!(!types(&["conference.participant"]).matches(&joined));
        assert!(!types(&["conf.*"]).matches(&joined));
        assert!(!types(&["call.*"]).matches(&joined));
    }

    #[test]
    fn ids_must_all_match() {
        let filter = Filter::new(&["conference.*".into()], "c1", "", "").unwrap();
        assert!(filter.matches(&event("conference.ended", "c1")));
        assert!(!filter.matches(&event("conference.ended", "c2")));
        assert!(!filter.matches(&event("call.hangup", "c1")));
        let filter = Filter::new(&[], "c1", "v3:x", "").unwrap();
        assert!(!filter.matches(&event("conference.ended", "c1")));
    }

    #[test]
    fn refuses_patterns_it_cannot_read() {
        for bad in [
            "",
            "*",
            "conference*",
            "conference.*.joined",
            "a..b",
            ".*",
            "Conference.Ended",
        ] {
            let error = Filter::new(&[bad.into()], "", "", "").unwrap_err();
            assert_eq!(error.field, "event_types", "{bad}");
        }
    }
}
