//! One request to Telnyx, as the client sends it.

use reqwest::Method;
use serde_json::Value as Json;

/// One request to Telnyx, ready to send (and to send again: it is fully
/// built before the first attempt, `command_id` included).
#[derive(Debug, Clone)]
pub struct RestCall {
    pub method: Method,
    /// Path below the base URL, segments escaped.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Json>,
}
