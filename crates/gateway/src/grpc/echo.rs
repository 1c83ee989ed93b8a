//! Input quoted back to callers, bounded.
//!
//! Error messages name what was wrong, and what was wrong is often input: a
//! pattern, a field value, Telnyx's `detail`. Quoted whole, a 300 KB value
//! overflows the status header (the caller sees RESOURCE_EXHAUSTED instead of
//! the real error) and makes every concurrent refusal cost its size again.
//! Every status the gateway makes therefore passes its message through
//! [`message`], and every quoted value in its details through [`quote`]:
//! control characters are escaped (`\n`, `\u{7}`) so a message stays one
//! line, and beyond the documented length the text is cut and ends with
//! `…(N bytes)`, the size of the original.

/// The most characters of one quoted value (a detail's entry, a field
/// violation's description) kept in a status.
pub const QUOTE_MAX_CHARS: usize = 256;

/// The most characters of a status message.
pub const MESSAGE_MAX_CHARS: usize = 1024;

/// `text` as a status detail may quote it.
pub fn quote(text: &str) -> String {
    bounded(text, QUOTE_MAX_CHARS)
}

/// `text` as a status message may carry it.
pub fn message(text: &str) -> String {
    bounded(text, MESSAGE_MAX_CHARS)
}

fn bounded(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars + 32));
    for (shown, ch) in text.chars().enumerate() {
        if shown == max_chars {
            out.push_str(&format!("…({} bytes)", text.len()));
            break;
        }
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_control_characters_escaped() {
        assert_eq!(quote("call.hangup"), "call.hangup");
        assert_eq!(quote("a\nb\u{7}c\u{1b}"), "a\\nb\\u{7}c\\u{1b}");
        assert_eq!(quote("é".repeat(256).as_str()), "é".repeat(256));
    }

    #[test]
    fn long_text_is_cut_with_its_size() {
        let huge = "x".repeat(2 * 1024 * 1024);
        let quoted = quote(&huge);
        assert_eq!(quoted, format!("{}…(2097152 bytes)", "x".repeat(256)));
        let controls = "\u{1}".repeat(4 * 1024 * 1024);
        let message = message(&controls);
        assert!(message.ends_with("…(4194304 bytes)"), "{message}");
        assert!(message.len() < 8 * 1024, "{}", message.len());
        assert!(!message.chars().any(char::is_control));
    }
}
