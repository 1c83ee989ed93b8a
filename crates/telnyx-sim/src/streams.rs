//! Media leaving the platform: forking RTP to a UDP target, streaming to a
//! WebSocket, and SIPREC sessions to a recording server.
//!
//! Each sends its `started` event at once and its `stopped` event when
//! stopped or when the call ends (before `call.hangup`). Nothing is really
//! sent anywhere; two conventions fail on purpose, for testing the failure
//! paths: a stream to a host under `.invalid` (RFC 2606) sends
//! `streaming.failed`, and a SIPREC session without `connector_name` (or to
//! a connector whose name starts with `invalid`) sends `siprec.failed`.

use serde_json::json;

use super::activity::Stream;
use super::error::ApiError;
use super::events::{
    CALL_FORK_STARTED, CALL_FORK_STOPPED, SIPREC_FAILED, SIPREC_STARTED, SIPREC_STOPPED,
    STREAMING_FAILED, STREAMING_STARTED, STREAMING_STOPPED, With,
};
use super::ids;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

const CODECS: &[&str] = &["PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16"];
const TRACKS: &[&str] = &["inbound_track", "outbound_track", "both_tracks"];
/// How many streams one call may run at once.
const MAX_STREAMS: usize = 10;

/// `POST /calls/{call_control_id}/actions/fork_start`
pub fn fork_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let rx = request.str("rx")?;
    let tx = request.str("tx")?;
    if rx.is_none() && tx.is_none() {
        return Err(ApiError::missing("rx"));
    }
    for (field, target) in [("rx", rx), ("tx", tx)] {
        if target.is_some_and(|t| !is_udp_target(t)) {
            return Err(ApiError::invalid_value(
                field,
                format_args!("The '{field}' parameter must look like udp:192.0.2.1:9000."),
            ));
        }
    }
    request.one_of("stream_type", &["decrypted"])?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let call = world.commanded_call(request)?;
    if call.activity.fork {
        return Err(already("forked"));
    }
    call.activity.fork = true;
    world.set_client_state(id, client_state);
    let context = world.call_context(id).with("stream_type", "decrypted");
    world.emit(&CALL_FORK_STARTED, &context);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/fork_stop`
pub fn fork_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    request.one_of("stream_type", &["raw", "decrypted"])?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    if !world.commanded_call(request)?.activity.fork {
        return Err(not_running("fork"));
    }
    world.set_client_state(id, client_state);
    world.stop_fork(id);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/streaming_start`
pub fn streaming_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let url = request.str("stream_url")?;
    let dialogflow = request.bool("enable_dialogflow")?.unwrap_or(false);
    let track = request
        .one_of("stream_track", TRACKS)?
        .unwrap_or("inbound_track");
    request.one_of("stream_codec", &[CODECS, &["default"]].concat())?;
    request.one_of("stream_bidirectional_codec", CODECS)?;
    request.one_of("stream_bidirectional_mode", &["mp3", "rtp"])?;
    request.one_of(
        "stream_bidirectional_target_legs",
        &["both", "self", "opposite"],
    )?;
    let rate = request.int("stream_bidirectional_sampling_rate", 8_000..=48_000)?;
    if rate.is_some_and(|r| ![8_000, 16_000, 22_050, 24_000, 48_000].contains(&r)) {
        return Err(ApiError::not_one_of(
            "stream_bidirectional_sampling_rate",
            &["8000", "16000", "22050", "24000", "48000"],
        ));
    }
    if request
        .str("stream_auth_token")?
        .is_some_and(|t| t.len() > 4_000)
    {
        return Err(ApiError::invalid_value(
            "stream_auth_token",
            "The 'stream_auth_token' parameter is at most 4000 characters long.",
        ));
    }
    let url = match (url, dialogflow) {
        (Some(url), _) => websocket(url)?,
        (None, true) => "dialogflow",
        (None, false) => return Err(ApiError::missing("stream_url")),
    };
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    if world.commanded_call(request)?.activity.streams.len() >= MAX_STREAMS {
        return Err(ApiError::invalid_value(
            "stream_url",
            format_args!("A call can stream to at most {MAX_STREAMS} places at once."),
        ));
    }
    world.set_client_state(id, client_state);
    world.open_stream(id, url, track);
    Ok(Reply::ok())
}

/// The stream dial and answer start when the call is answered:
/// `stream_url` (a WebSocket) and `stream_track`.
pub fn stream_on_answer(request: &Request) -> Result<Option<(String, &'static str)>, ApiError> {
    let track = request
        .one_of("stream_track", TRACKS)?
        .unwrap_or("inbound_track");
    request.one_of("stream_codec", &[CODECS, &["default"]].concat())?;
    Ok(match request.str("stream_url")? {
        Some(url) => Some((websocket(url)?.to_owned(), track)),
        None => None,
    })
}

/// A `stream_url`: ws:// or wss://.
fn websocket(url: &str) -> Result<&str, ApiError> {
    if url.starts_with("wss://") || url.starts_with("ws://") {
        Ok(url)
    } else {
        Err(ApiError::invalid_value(
            "stream_url",
            "The 'stream_url' parameter must be a ws:// or wss:// URL.",
        ))
    }
}

/// `POST /calls/{call_control_id}/actions/streaming_stop`: the stream named
/// by `stream_id`, or every stream of the call.
pub fn streaming_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let stream_id = request.str("stream_id")?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let streams = &world.commanded_call(request)?.activity.streams;
    let known = match stream_id {
        Some(wanted) => streams.iter().any(|s| s.id == wanted),
        None => !streams.is_empty(),
    };
    if !known {
        return Err(ApiError::invalid_value(
            "stream_id",
            "The call has no stream running with this stream_id.",
        ));
    }
    world.set_client_state(id, client_state);
    world.stop_streams(id, stream_id);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/siprec_start`
pub fn siprec_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let connector = request.str("connector_name")?;
    request.bool("include_metadata_custom_headers")?;
    request.bool("secure")?;
    request.int("session_timeout_secs", 1..=14_400)?;
    request.one_of("sip_transport", &["udp", "tcp", "tls"])?;
    request.one_of("siprec_track", TRACKS)?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    if world.commanded_call(request)?.activity.siprec {
        return Err(already("recorded over SIPREC"));
    }
    world.set_client_state(id, client_state);
    let failure = match connector {
        None => Some("No SIPREC connector was named."),
        Some(name) if name.starts_with("invalid") => {
            Some("The SIPREC connector is not configured.")
        }
        Some(_) => None,
    };
    if let Some(cause) = failure {
        let context = world.call_context(id).with("failure_cause", cause);
        world.emit(&SIPREC_FAILED, &context);
        return Ok(Reply::ok());
    }
    if let Some(call) = world.calls.get_mut(id) {
        call.activity.siprec = true;
    }
    let context = world.call_context(id);
    world.emit(&SIPREC_STARTED, &context);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/siprec_stop`
pub fn siprec_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    if !world.commanded_call(request)?.activity.siprec {
        return Err(not_running("SIPREC session"));
    }
    world.set_client_state(id, client_state);
    world.stop_siprec(id, "normal_clearing");
    Ok(Reply::ok())
}

fn is_udp_target(target: &str) -> bool {
    target
        .strip_prefix("udp:")
        .and_then(|rest| rest.rsplit_once(':'))
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// 422 for starting what runs already.
pub fn already(what: &str) -> ApiError {
    ApiError::invalid_value(
        "call_control_id",
        format_args!("The call is already {what}."),
    )
}

/// 422 for stopping what does not run.
pub fn not_running(what: &str) -> ApiError {
    ApiError::invalid_value(
        "call_control_id",
        format_args!("The call has no {what} running."),
    )
}

impl World {
    /// Streams a call's `track` to `url`: `streaming.started`, or
    /// `streaming.failed` for a host under `.invalid`.
    pub fn open_stream(&mut self, id: &str, url: &str, track: &str) {
        let stream_id = ids::uuid();
        let host = url.split("://").nth(1).unwrap_or_default();
        let host = host.split(['/', ':', '?']).next().unwrap_or_default();
        if host.ends_with(".invalid") {
            let context = self
                .call_context(id)
                .with("failure_reason", "connection_failed")
                .with("stream_id", stream_id)
                .with("stream_type", "websocket")
                .with("stream_params", json!({"stream_url": url, "track": track}));
            self.emit(&STREAMING_FAILED, &context);
            return;
        }
        if let Some(call) = self.calls.get_mut(id) {
            call.activity.streams.push(Stream {
                id: stream_id,
                url: url.to_owned(),
            });
        }
        let context = self.call_context(id).with("stream_url", url);
        self.emit(&STREAMING_STARTED, &context);
    }

    pub fn stop_fork(&mut self, id: &str) {
        let Some(call) = self.calls.get_mut(id).filter(|c| c.activity.fork) else {
            return;
        };
        call.activity.fork = false;
        let context = call.context().with("stream_type", "decrypted");
        self.emit(&CALL_FORK_STOPPED, &context);
    }

    /// Stops one stream, or all of them.
    pub fn stop_streams(&mut self, id: &str, stream_id: Option<&str>) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let (stopped, kept) = call
            .activity
            .streams
            .drain(..)
            .partition(|s| stream_id.is_none_or(|wanted| s.id == wanted));
        call.activity.streams = kept;
        let stopped: Vec<Stream> = stopped;
        for stream in stopped {
            let context = self.call_context(id).with("stream_url", stream.url);
            self.emit(&STREAMING_STOPPED, &context);
        }
    }

    pub fn stop_siprec(&mut self, id: &str, cause: &str) {
        let Some(call) = self.calls.get_mut(id).filter(|c| c.activity.siprec) else {
            return;
        };
        call.activity.siprec = false;
        let context = call.context().with("hangup_cause", cause);
        self.emit(&SIPREC_STOPPED, &context);
    }
}
