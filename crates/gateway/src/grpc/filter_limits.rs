//! The bounds on one `Subscribe` filter, checked before the filter is read.
//!
//! Every subscriber's filter is checked against every event the fan-out
//! offers it, and held for as long as the stream lives; an unbounded filter
//! lets one caller make the fan-out slow and the gateway large for everyone.
//! The limits are checked before a pattern is parsed or quoted, so a refusal
//! never repeats a huge input back.

use events::filter::InvalidFilter;

/// The longest id (`conference_id`, `call_control_id`, `queue_name`) a filter
/// may name, in bytes. Telnyx's ids are well under 100.
pub const MAX_FILTER_ID_BYTES: usize = 256;

/// GATEWAY_SUBSCRIBE_MAX_EVENT_TYPES and GATEWAY_SUBSCRIBE_MAX_PATTERN_BYTES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    pub max_event_types: usize,
    pub max_pattern_bytes: usize,
}

impl Default for FilterLimits {
    /// The documented defaults.
    fn default() -> Self {
        FilterLimits {
            max_event_types: 64,
            max_pattern_bytes: 128,
        }
    }
}

impl FilterLimits {
    /// Refuses a filter beyond the limits, naming the limit and its setting.
    pub fn check(
        &self,
        event_types: &[String],
        ids: [(&'static str, &str); 3],
    ) -> Result<(), InvalidFilter> {
        if event_types.len() > self.max_event_types {
            return Err(InvalidFilter {
                field: "event_types",
                reason: format!(
                    "{} patterns, more than the {} allowed (GATEWAY_SUBSCRIBE_MAX_EVENT_TYPES)",
                    event_types.len(),
                    self.max_event_types
                ),
            });
        }
        if let Some((index, pattern)) = event_types
            .iter()
            .enumerate()
            .find(|(_, pattern)| pattern.len() > self.max_pattern_bytes)
        {
            return Err(InvalidFilter {
                field: "event_types",
                reason: format!(
                    "pattern {index} has {} bytes, more than the {} allowed \
                     (GATEWAY_SUBSCRIBE_MAX_PATTERN_BYTES)",
                    pattern.len(),
                    self.max_pattern_bytes
                ),
            });
        }
        for (field, id) in ids {
            if id.len() > MAX_FILTER_ID_BYTES {
                return Err(InvalidFilter {
                    field,
                    reason: format!(
                        "has {} bytes, more than the {MAX_FILTER_ID_BYTES} an id may have",
                        id.len()
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_IDS: [(&str, &str); 3] = [
        ("conference_id", ""),
        ("call_control_id", ""),
        ("queue_name", ""),
    ];

    #[test]
    fn filters_within_the_limits_pass() {
        let limits = FilterLimits::default();
        let patterns: Vec<String> = (0..64).map(|i| format!("call.event{i}")).collect();
        assert!(limits.check(&patterns, NO_IDS).is_ok());
        assert!(limits.check(&["x".repeat(128)], NO_IDS).is_ok());
    }

    #[test]
    fn too_many_or_too_long_patterns_name_the_limit_without_quoting_them() {
        let limits = FilterLimits::default();
        let many: Vec<String> = (0..100_000).map(|_| "call.hangup".to_owned()).collect();
        let error = limits.check(&many, NO_IDS).unwrap_err();
        assert_eq!(error.field, "event_types");
        assert_eq!(
            error.reason,
            "100000 patterns, more than the 64 allowed (GATEWAY_SUBSCRIBE_MAX_EVENT_TYPES)"
        );
        let huge = vec!["call.hangup".to_owned(), "\u{1}".repeat(300_000)];
        let error = limits.check(&huge, NO_IDS).unwrap_err();
        assert_eq!(
            error.reason,
            "pattern 1 has 300000 bytes, more than the 128 allowed \
             (GATEWAY_SUBSCRIBE_MAX_PATTERN_BYTES)"
        );
        let long_id = "c".repeat(257);
        let error = limits
            .check(
                &[],
                [
                    ("conference_id", &long_id),
                    ("call_control_id", ""),
                    ("queue_name", ""),
                ],
            )
            .unwrap_err();
        assert_eq!(error.field, "conference_id");
        assert!(error.reason.contains("257 bytes"), "{}", error.reason);
    }
}
