//! AIP-158 paging on top of Telnyx's numbered pages.
//!
//! Callers see `page_size`, an opaque `page_token` and `next_page_token`. The
//! token carries Telnyx's next page number, the page size it was cut with, and
//! a fingerprint of the list's filters: a token handed back with other filters
//! would page through a different list, so it is refused instead of silently
//! returning the wrong rows.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// Telnyx's page size when none is given, and its maximum.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 250;

/// Which Telnyx page to fetch, and how to cut the next token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub position: Position,
    pub size: u32,
    pub fingerprint: u64,
}

/// Where in the list a page starts, in the list's own paging scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// Numbered pages from 1: `page[number]`, `page[size]`.
    Number(u32),
    /// Cursor pages: `page[after]` (empty for the first page), `page[limit]`.
    After(String),
}

/// Why a paging field was refused; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    #[error("must not be negative")]
    NegativePageSize,
    #[error("is not a page token issued by this gateway")]
    MalformedToken,
    #[error("was issued for a list request with different filters")]
    TokenForOtherRequest,
}

impl Page {
    /// The page a request asks for. A `page_size` above the maximum is lowered
    /// to it, as AIP-158 asks; a token fixes the size it was issued with, since
    /// Telnyx numbers pages by size.
    pub fn from_request(
        page_size: i32,
        page_token: &str,
        fingerprint: u64,
        cursor_paging: bool,
    ) -> Result<Page, PagingError> {
        if page_size < 0 {
            return Err(PagingError::NegativePageSize);
        }
        if page_token.is_empty() {
            let size = match page_size as u32 {
                0 => DEFAULT_PAGE_SIZE,
                n => n.min(MAX_PAGE_SIZE),
            };
            let position = if cursor_paging {
                Position::After(String::new())
            } else {
                Position::Number(1)
            };
            return Ok(Page {
                position,
                size,
                fingerprint,
            });
        }
        let page = Page::decode(page_token).ok_or(PagingError::MalformedToken)?;
        if page.fingerprint != fingerprint {
            return Err(PagingError::TokenForOtherRequest);
        }
        if matches!(page.position, Position::After(_)) != cursor_paging {
            return Err(PagingError::MalformedToken);
        }
        Ok(page)
    }

    /// The query parameters that select this page.
    pub fn query(&self) -> Vec<(String, String)> {
        match &self.position {
            Position::Number(number) => vec![
                ("page[number]".to_owned(), number.to_string()),
                ("page[size]".to_owned(), self.size.to_string()),
            ],
            Position::After(cursor) => {
                let mut query = vec![("page[limit]".to_owned(), self.size.to_string())];
                if !cursor.is_empty() {
                    query.insert(0, ("page[after]".to_owned(), cursor.clone()));
                }
                query
            }
        }
    }

    /// The token for the page after a numbered one, or empty when it was the
    /// last (Telnyx: `page_number >= total_pages`).
    pub fn next_numbered(&self, page_number: u32, total_pages: u32) -> String {
        if page_number == 0 || page_number >= total_pages {
            return String::new();
        }
        self.with_position(Position::Number(page_number + 1))
            .encode()
    }

    /// The token for the page after a cursor page, or empty when Telnyx gave
    /// no `after` cursor.
    pub fn next_after(&self, after: &str) -> String {
        if after.is_empty() {
            return String::new();
        }
        self.with_position(Position::After(after.to_owned()))
            .encode()
    }

    fn with_position(&self, position: Position) -> Page {
        Page {
            position,
            size: self.size,
            fingerprint: self.fingerprint,
        }
    }

    fn encode(&self) -> String {
        let raw = match &self.position {
            Position::Number(number) => {
                format!("v1:{:016x}:{}:n:{number}", self.fingerprint, self.size)
            }
            Position::After(cursor) => {
                format!("v1:{:016x}:{}:a:{cursor}", self.fingerprint, self.size)
            }
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn decode(token: &str) -> Option<Page> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let mut parts = raw.splitn(5, ':');
        if parts.next()? != "v1" {
            return None;
        }
        let fingerprint = u64::from_str_radix(parts.next()?, 16).ok()?;
        let size: u32 = parts.next()?.parse().ok()?;
        if size == 0 || size > MAX_PAGE_SIZE {
            return None;
        }
        let position = match (parts.next()?, parts.next()?) {
            ("n", number) => Position::Number(number.parse().ok().filter(|n| *n > 0)?),
            ("a", cursor) if !cursor.is_empty() => Position::After(cursor.to_owned()),
            _ => return None,
        };
        Some(Page {
            position,
            size,
            fingerprint,
        })
    }
}

/// FNV-1a over the list's query parameters: stable across builds and
/// replicas, so a token issued by one replica works on every other.
pub fn fingerprint<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for (key, value) in pairs {
        for byte in key.bytes().chain([0]).chain(value.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_page_uses_default_and_caps_size() {
        assert_eq!(
            Page::from_request(0, "", 7, false).unwrap().size,
            DEFAULT_PAGE_SIZE
        );
        assert_eq!(
            Page::from_request(1000, "", 7, false).unwrap().size,
            MAX_PAGE_SIZE
        );
        assert_eq!(
            Page::from_request(-1, "", 7, false),
            Err(PagingError::NegativePageSize)
        );
    }

    #[test]
    fn numbered_token_round_trips_and_is_bound_to_the_filters() {
        let first = Page::from_request(50, "", 42, false).unwrap();
        let token = first.next_numbered(1, 3);
        let second = Page::from_request(0, &token, 42, false).unwrap();
        assert_eq!(
            (second.position.clone(), second.size),
            (Position::Number(2), 50)
        );
        assert_eq!(
            Page::from_request(0, &token, 43, false),
            Err(PagingError::TokenForOtherRequest)
        );
        assert_eq!(second.next_numbered(3, 3), "");
        assert_eq!(
            Page::from_request(0, "garbage!", 42, false),
            Err(PagingError::MalformedToken)
        );
        assert_eq!(
            second.query(),
            [
                ("page[number]".to_owned(), "2".to_owned()),
                ("page[size]".to_owned(), "50".to_owned())
            ]
        );
    }

    #[test]
    fn cursor_token_keeps_the_cursor_verbatim() {
        let first = Page::from_request(10, "", 1, true).unwrap();
        assert_eq!(first.query(), [("page[limit]".to_owned(), "10".to_owned())]);
        let token = first.next_after("v1:g3QAAAAD:x=");
        let second = Page::from_request(0, &token, 1, true).unwrap();
        assert_eq!(second.position, Position::After("v1:g3QAAAAD:x=".into()));
        assert_eq!(
            second.query()[0],
            ("page[after]".to_owned(), "v1:g3QAAAAD:x=".to_owned())
        );
        assert_eq!(first.next_after(""), "");
        assert_eq!(
            Page::from_request(0, &token, 1, false),
            Err(PagingError::MalformedToken)
        );
    }

    #[test]
    fn fingerprint_depends_on_keys_and_values() {
        let a = fingerprint([("filter[name]", "a")]);
        assert_ne!(a, fingerprint([("filter[name]", "b")]));
        assert_ne!(a, fingerprint([("filter[status]", "a")]));
        assert_eq!(a, fingerprint([("filter[name]", "a")]));
    }
}
