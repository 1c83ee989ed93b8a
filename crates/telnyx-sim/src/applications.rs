//! Call Control applications (the `connection_id` calls are made on).
//!
//! The settings are a flat bag Telnyx validates field by field, so they are
//! described once in [`SETTINGS`] and every create or update goes through
//! the same checks.

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::ids;
use super::model::Application;
use super::paging;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// What one setting accepts.
enum Kind {
    Bool,
    Int(i64, i64),
    NullableInt(i64, i64),
    Str,
    NullableStr,
    OneOf(&'static [&'static str]),
    Object,
    StrList,
}

/// Every setting a create or update may carry, with its type.
const SETTINGS: &[(&str, Kind)] = &[
    ("application_name", Kind::Str),
    ("webhook_event_url", Kind::Str),
    ("active", Kind::Bool),
    (
        "anchorsite_override",
        Kind::OneOf(&[
            "Latency",
            "Chicago, IL",
            "Ashburn, VA",
            "San Jose, CA",
            "London, UK",
            "Chennai, IN",
            "Amsterdam, Netherlands",
            "Toronto, Canada",
            "Sydney, Australia",
        ]),
    ),
    ("call_cost_in_webhooks", Kind::Bool),
    (
        "dtmf_type",
        Kind::OneOf(&["RFC 2833", "Inband", "SIP INFO"]),
    ),
    ("first_command_timeout", Kind::Bool),
    ("first_command_timeout_secs", Kind::Int(1, 120)),
    ("inbound", Kind::Object),
    ("outbound", Kind::Object),
    ("redact_dtmf_debug_logging", Kind::Bool),
    ("tags", Kind::StrList),
    ("webhook_api_version", Kind::OneOf(&["1", "2"])),
    ("webhook_event_failover_url", Kind::NullableStr),
    ("webhook_timeout_secs", Kind::NullableInt(0, 30)),
];

const SORTS: &[&str] = &["created_at", "connection_name", "active"];

/// The settings of a new application before the request's are applied.
fn defaults() -> Map<String, Value> {
    let defaults = json!({
        "active": true,
        "anchorsite_override": "Latency",
        "call_cost_in_webhooks": false,
        "dtmf_type": "RFC 2833",
        "first_command_timeout": false,
        "first_command_timeout_secs": 30,
        "inbound": {"shaken_stir_enabled": false, "sip_subdomain_receive_settings": "from_anyone"},
        "outbound": {},
        "redact_dtmf_debug_logging": false,
        "tags": [],
        "webhook_api_version": "1",
        "webhook_event_failover_url": null,
        "webhook_timeout_secs": null,
    });
    match defaults {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `GET /call_control_applications`
pub fn list(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let contains = request.query("filter[application_name][contains]");
    if contains.is_some_and(|c| c.chars().count() < 3) {
        return Err(ApiError::invalid_value(
            "filter[application_name][contains]",
            "The filter needs at least three characters.",
        )
        .at_parameter("filter[application_name][contains]"));
    }
    let sort = request.query("sort").unwrap_or("created_at");
    if !SORTS.contains(&sort) {
        return Err(ApiError::not_one_of("sort", SORTS).at_parameter("sort"));
    }
    let needle = contains.map(str::to_lowercase);
    let mut applications: Vec<&Application> = world
        .applications
        .values()
        .filter(|a| {
            needle
                .as_ref()
                .is_none_or(|n| a.name().to_lowercase().contains(n))
        })
        .collect();
    match sort {
        "connection_name" => applications.sort_by(|a, b| a.name().cmp(b.name())),
        "active" => applications.sort_by_key(|a| (a.settings["active"] != true, a.created_at)),
        _ => applications.sort_by_key(|a| (a.created_at, a.id.clone())),
    }
    paging::numbered(request, applications.iter().map(|a| a.to_json()).collect())
}

/// `POST /call_control_applications`: 201 with the application.
pub fn create(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let mut settings = defaults();
    apply(request, &mut settings)?;
    let application = world.add_application(settings);
    Ok(Reply::created(application.to_json()))
}

/// `GET /call_control_applications/{id}`
pub fn retrieve(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    Ok(Reply::data(find(world, request)?.to_json()))
}

/// `PATCH /call_control_applications/{id}`
pub fn update(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let now = world.now();
    let application = find(world, request)?;
    let mut settings = application.settings.clone();
    apply(request, &mut settings)?;
    application.settings = settings;
    application.updated_at = now;
    Ok(Reply::data(application.to_json()))
}

/// `DELETE /call_control_applications/{id}`: answers with what was deleted.
pub fn delete(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let application = find(world, request)?.to_json();
    world.applications.remove(request.param("id"));
    Ok(Reply::data(application))
}

fn find<'a>(world: &'a mut World, request: &Request) -> Result<&'a mut Application, ApiError> {
    world
        .applications
        .get_mut(request.param("id"))
        .ok_or_else(ApiError::not_found)
}

/// Checks the request's settings and writes them over `settings`. The name
/// and webhook URL are required on create and update alike.
fn apply(request: &Request, settings: &mut Map<String, Value>) -> Result<(), ApiError> {
    request.required_str("application_name")?;
    let url = request.required_str("webhook_event_url")?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::invalid_value(
            "webhook_event_url",
            "The webhook URL must be an http or https URL.",
        ));
    }
    for (field, kind) in SETTINGS {
        let Some(value) = request.body.get(*field) else {
            continue;
        };
        match kind {
            Kind::Bool => {
                request.bool(field)?;
            }
            Kind::Int(min, max) | Kind::NullableInt(min, max) => {
                request.int(field, *min..=*max)?;
            }
            Kind::Str => {
                request.required_str(field)?;
            }
            Kind::NullableStr => {
                request.str(field)?;
            }
            Kind::OneOf(allowed) => {
                request.one_of(field, allowed)?;
            }
            Kind::StrList => {
                request.str_list(field)?;
            }
            Kind::Object if value.is_object() => {}
            Kind::Object => return Err(ApiError::wrong_type(field, "an object")),
        }
        let nullable = matches!(kind, Kind::NullableInt(..) | Kind::NullableStr);
        if value.is_null() && !nullable {
            continue;
        }
        settings.insert((*field).to_owned(), value.clone());
    }
    Ok(())
}

impl World {
    /// Adds an application with checked settings.
    pub fn add_application(&mut self, settings: Map<String, Value>) -> &Application {
        let now = self.now();
        let id = ids::application_id();
        self.applications.entry(id.clone()).or_insert(Application {
            id,
            settings,
            created_at: now,
            updated_at: now,
        })
    }

    /// The application a sandbox starts with, so calls can be made at once.
    pub fn add_default_application(&mut self, webhook_url: &str) -> String {
        let mut settings = defaults();
        settings.insert("application_name".into(), json!("sandbox"));
        settings.insert("webhook_event_url".into(), json!(webhook_url));
        settings.insert("webhook_api_version".into(), json!("2"));
        let id = self.add_application(settings).id.clone();
        self.default_connection_id = Some(id.clone());
        id
    }
}
