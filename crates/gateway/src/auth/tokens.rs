//! Caller tokens: parsing, and lookup that leaks nothing through timing.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The configured callers, as `name` and a digest of their token.
///
/// Tokens are kept only as SHA-256 digests: comparing fixed-size digests in
/// constant time hides both the token's content and its length, and a heap
/// dump or a stray `Debug` holds nothing a caller could present.
#[derive(Clone, Default)]
pub struct TokenSet {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    digest: [u8; 32],
}

/// A line or pair that is not `name:token`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct TokenError {
    /// Where the bad entry is, e.g. `GATEWAY_AUTH_TOKENS entry 2` or `tokens.txt line 4`.
    pub origin: String,
    pub problem: String,
}

impl TokenSet {
    /// Parses `name:token` pairs separated by commas (`GATEWAY_AUTH_TOKENS`).
    pub fn parse_list(list: &str, origin: &str) -> Result<TokenSet, TokenError> {
        let mut set = TokenSet::default();
        for (i, pair) in list.split(',').enumerate() {
            if pair.trim().is_empty() {
                continue;
            }
            set.add(pair, &format!("{origin} entry {}", i + 1))?;
        }
        Ok(set)
    }

    /// Parses a tokens file: one `name:token` per line, `#` starts a comment.
    pub fn parse_file(text: &str, origin: &str) -> Result<TokenSet, TokenError> {
        let mut set = TokenSet::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split_once('#').map_or(line, |(before, _)| before);
            if line.trim().is_empty() {
                continue;
            }
            set.add(line, &format!("{origin} line {}", i + 1))?;
        }
        Ok(set)
    }

    /// Both sets together; a name may appear in both.
    pub fn merged(&self, other: &TokenSet) -> TokenSet {
        let mut entries = self.entries.clone();
        entries.extend(other.entries.iter().cloned());
        TokenSet { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The name of the caller whose token this is. Every entry is compared,
    /// whatever matches, so the time taken says nothing about the token.
    pub fn caller(&self, presented: &str) -> Option<&str> {
        let digest = digest(presented);
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(entry.name.as_str());
            }
        }
        found
    }

    fn add(&mut self, pair: &str, origin: &str) -> Result<(), TokenError> {
        let error = |problem: &str| TokenError {
            origin: origin.to_owned(),
            problem: problem.to_owned(),
        };
        let (name, token) = pair
            .trim()
            .split_once(':')
            .ok_or_else(|| error("expected name:token"))?;
        let (name, token) = (name.trim(), token.trim());
        if name.is_empty() {
            return Err(error("the caller name is empty"));
        }
        if token.len() < 16 {
            return Err(error("the token is shorter than 16 characters"));
        }
        self.entries.push(Entry {
            name: name.to_owned(),
            digest: digest(token),
        });
        Ok(())
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.name))
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a-token-of-32-characters-0000000";
    const B: &str = "b-token-of-32-characters-1111111";

    #[test]
    fn finds_callers_by_token() {
        let set = TokenSet::parse_list(&format!("billing:{A}, dialer:{B}"), "GATEWAY_AUTH_TOKENS")
            .unwrap();
        assert_eq!(set.caller(A), Some("billing"));
        assert_eq!(set.caller(B), Some("dialer"));
        assert_eq!(set.caller("a-token-of-32-characters-000000"), None);
        assert_eq!(set.caller(""), None);
    }

    #[test]
    fn parses_files_with_comments_and_blank_lines() {
        let text = format!("# callers\n\nbilling:{A}  # the billing service\n dialer : {B}\n");
        let set = TokenSet::parse_file(&text, "tokens").unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.caller(B), Some("dialer"));
    }

    #[test]
    fn refuses_malformed_entries_naming_where() {
        let error = TokenSet::parse_list(&format!("billing:{A},nocolon"), "GATEWAY_AUTH_TOKENS")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "GATEWAY_AUTH_TOKENS entry 2: expected name:token"
        );
        let error = TokenSet::parse_file("x:short\n", "tokens").unwrap_err();
        assert_eq!(
            error.to_string(),
            "tokens line 1: the token is shorter than 16 characters"
        );
        let error = TokenSet::parse_list(&format!(":{A}"), "T").unwrap_err();
        assert_eq!(error.problem, "the caller name is empty");
    }

    #[test]
    fn debug_shows_names_only() {
        let set = TokenSet::parse_list(&format!("billing:{A}"), "T").unwrap();
        assert_eq!(format!("{set:?}"), r#"["billing"]"#);
    }
}
