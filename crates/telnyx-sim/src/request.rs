//! One REST request as handlers see it: path parameters, query pairs and the
//! JSON body, with typed accessors that fail the way Telnyx fails (10004 for
//! a missing field, 10015 for a wrong type, 10032 for a value outside an
//! enum, 10033 for a number out of range), each pointing at the field.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::error::ApiError;

/// A parsed request. Bodies that are absent or empty read as `{}`.
#[derive(Debug, Default)]
pub struct Request {
    pub params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub body: Map<String, Value>,
}

impl Request {
    /// Parses the raw query string and body; a body that is not a JSON object
    /// is refused with Telnyx's 400.
    pub fn parse(
        params: HashMap<String, String>,
        raw_query: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(ApiError::malformed_body("expected an object")),
                Err(error) => return Err(ApiError::malformed_body(error)),
            }
        };
        Ok(Request {
            params,
            query: raw_query.map(parse_query).unwrap_or_default(),
            body,
        })
    }

    /// A path parameter; routes guarantee the ones they declare.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The last value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A boolean query parameter (`filter[muted]=true`).
    pub fn query_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.query(name)
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| ApiError::wrong_type(name, "true or false").at_parameter(name))
            })
            .transpose()
    }

    /// An integer query parameter within `range`, or `default`.
    pub fn query_int(
        &self,
        name: &str,
        range: RangeInclusive<i64>,
        default: i64,
    ) -> Result<i64, ApiError> {
        let Some(value) = self.query(name) else {
            return Ok(default);
        };
        let value: i64 = value
            .parse()
            .map_err(|_| ApiError::wrong_type(name, "an integer").at_parameter(name))?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ApiError::out_of_range(*range.start(), *range.end()).at_parameter(name))
        }
    }

    /// An optional string field; an empty string reads as absent.
    pub fn str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::wrong_type(field, "a string")),
        }
    }

    /// A required, non-blank string field.
    pub fn required_str(&self, field: &str) -> Result<&str, ApiError> {
        self.str(field)?.ok_or_else(|| ApiError::missing(field))
    }

    pub fn bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::wrong_type(field, "a boolean")),
        }
    }

    /// An optional integer field within `range`.
    pub fn int(&self, field: &str, range: RangeInclusive<i64>) -> Result<Option<i64>, ApiError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(value) if range.contains(&value) => Ok(Some(value)),
                Some(_) => Err(ApiError::out_of_range(*range.start(), *range.end()).at(field)),
                None => Err(ApiError::wrong_type(field, "an integer")),
            },
            Some(_) => Err(ApiError::wrong_type(field, "an integer")),
        }
    }

    /// An optional string field that must be one of `allowed`.
    pub fn one_of(
        &self,
        field: &str,
        allowed: &[&'static str],
    ) -> Result<Option<&'static str>, ApiError> {
        match self.str(field)? {
            None => Ok(None),
            Some(value) => allowed
                .iter()
                .find(|a| **a == value)
                .copied()
                .map(Some)
                .ok_or_else(|| ApiError::not_one_of(field, allowed)),
        }
    }

    /// A required string field that must be one of `allowed`.
    pub fn required_one_of(
        &self,
        field: &str,
        allowed: &[&'static str],
    ) -> Result<&'static str, ApiError> {
        self.one_of(field, allowed)?
            .ok_or_else(|| ApiError::missing(field))
    }

    /// An optional array of strings.
    pub fn str_list(&self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| ApiError::wrong_type(field, "an array of strings")),
            Some(_) => Err(ApiError::wrong_type(field, "an array of strings")),
        }
    }

    /// A required, non-empty array of strings.
    pub fn required_str_list(&self, field: &str) -> Result<Vec<String>, ApiError> {
        self.str_list(field)?
            .filter(|list| !list.is_empty())
            .ok_or_else(|| ApiError::missing(field))
    }
}

/// `a=1&filter%5Bname%5D=x+y` -> [("a", "1"), ("filter[name]", "x y")].
fn parse_query(raw: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Source;

    fn request(body: &str, query: Option<&str>) -> Request {
        Request::parse(HashMap::new(), query, body.as_bytes()).unwrap()
    }

    #[test]
    fn typed_fields_fail_like_telnyx() {
        let r = request(
            r#"{"name":"", "n": 5, "flag": "yes", "region": "Mars"}"#,
            None,
        );
        assert_eq!(r.required_str("name").unwrap_err().code, "10004");
        assert_eq!(r.bool("flag").unwrap_err().code, "10015");
        let range = r.int("n", 1..=3).unwrap_err();
        assert_eq!(
            (range.code, range.location),
            ("10033", Some(Source::Pointer("/n".into())))
        );
        assert_eq!(
            r.one_of("region", &["US", "Europe"]).unwrap_err().code,
            "10032"
        );
        assert_eq!(r.str("absent").unwrap(), None);
    }

    #[test]
    fn bodies_must_be_objects_and_queries_decode() {
        assert_eq!(
            Request::parse(HashMap::new(), None, b"[1]")
                .unwrap_err()
                .code,
            "10015"
        );
        assert_eq!(
            Request::parse(HashMap::new(), None, b"{not json")
                .unwrap_err()
                .status,
            400
        );
        let r = request("", Some("page%5Bsize%5D=5&filter[name]=a+b&flag"));
        assert_eq!(r.query("page[size]"), Some("5"));
        assert_eq!(r.query("filter[name]"), Some("a b"));
        assert_eq!(r.query_int("page[size]", 1..=250, 20).unwrap(), 5);
        assert_eq!(r.query_int("page[number]", 1..=9, 1).unwrap(), 1);
        assert_eq!(r.query("flag"), Some(""));
    }
}
