//! What is done to a call's audio as it flows: real-time transcription and
//! noise suppression.
//!
//! Transcription sends one `call.transcription` per utterance on the tracks
//! it listens to: what the far end says (`/_sim/calls/{id}/speech`) is the
//! `inbound` track, what the call speaks (`speak` with text) the `outbound`
//! one. Noise suppression sends no webhooks; it only changes what is heard.

use serde_json::{Value, json};

use super::error::ApiError;
use super::events::{CALL_TRANSCRIPTION, With};
use super::reply::Reply;
use super::request::Request;
use super::state::World;
use super::streams::{already, not_running};

const ENGINES: &[&str] = &[
    "Google",
    "Telnyx",
    "Deepgram",
    "Azure",
    "xAI",
    "AssemblyAI",
    "Speechmatics",
    "Soniox",
    "Parakeet",
    "A",
    "B",
];
const SUPPRESSION_ENGINES: &[&str] = &[
    "Denoiser",
    "DeepFilterNet",
    "Krisp",
    "AiCoustics",
    "aic_l_quail",
    "aic_l_rook",
    "aic_s_quail",
    "aic_s_rook",
    "quail_voice_focus_s",
    "quail_voice_focus_xs",
];
/// The confidence every simulated transcript carries.
const CONFIDENCE: f64 = 0.97;

/// `POST /calls/{call_control_id}/actions/transcription_start`
pub fn transcription_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let engine = request
        .one_of("transcription_engine", ENGINES)?
        .unwrap_or("Google");
    if let Some(config) = request.body.get("transcription_engine_config") {
        let named = config.get("transcription_engine").and_then(|e| e.as_str());
        if !config.is_object() {
            return Err(ApiError::wrong_type(
                "transcription_engine_config",
                "an object",
            ));
        }
        if named.is_some_and(|n| n != engine) {
            return Err(ApiError::invalid_value(
                "transcription_engine_config",
                "The config is for another transcription_engine.",
            ));
        }
    }
    let tracks = request
        .one_of("transcription_tracks", &["inbound", "outbound", "both"])?
        .unwrap_or("inbound");
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let call = world.commanded_call(request)?;
    if call.activity.transcription.is_some() {
        return Err(already("being transcribed"));
    }
    call.activity.transcription = Some(tracks);
    world.set_client_state(id, client_state);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/transcription_stop`
pub fn transcription_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let call = world.commanded_call(request)?;
    if call.activity.transcription.take().is_none() {
        return Err(not_running("transcription"));
    }
    world.set_client_state(id, client_state);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/suppression_start`
pub fn suppression_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    request.one_of("direction", &["inbound", "outbound", "both"])?;
    request.one_of("noise_suppression_engine", SUPPRESSION_ENGINES)?;
    if request
        .body
        .get("noise_suppression_engine_config")
        .is_some_and(|c| !c.is_object() && !c.is_null())
    {
        return Err(ApiError::wrong_type(
            "noise_suppression_engine_config",
            "an object",
        ));
    }
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let call = world.commanded_call(request)?;
    if call.activity.suppression {
        return Err(already("noise suppressed"));
    }
    call.activity.suppression = true;
    world.set_client_state(id, client_state);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/suppression_stop`
pub fn suppression_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let call = world.commanded_call(request)?;
    if !std::mem::take(&mut call.activity.suppression) {
        return Err(not_running("noise suppression"));
    }
    world.set_client_state(id, client_state);
    Ok(Reply::ok())
}

/// The transcription dial and answer start when the call is answered
/// (`transcription: true`), with the tracks of its `transcription_config`.
pub fn transcription_on_answer(request: &Request) -> Result<Option<&'static str>, ApiError> {
    let wanted = request.bool("transcription")?.unwrap_or(false);
    let tracks = match request.body.get("transcription_config") {
        None | Some(Value::Null) => "inbound",
        Some(Value::Object(config)) => match config.get("transcription_tracks") {
            None | Some(Value::Null) => "inbound",
            Some(Value::String(tracks)) => ["inbound", "outbound", "both"]
                .into_iter()
                .find(|t| t == tracks)
                .ok_or_else(|| {
                    ApiError::not_one_of(
                        "transcription_config/transcription_tracks",
                        &["inbound", "outbound", "both"],
                    )
                })?,
            Some(_) => {
                return Err(ApiError::wrong_type(
                    "transcription_config/transcription_tracks",
                    "a string",
                ));
            }
        },
        Some(_) => return Err(ApiError::wrong_type("transcription_config", "an object")),
    };
    Ok(wanted.then_some(tracks))
}

impl World {
    /// Sends `call.transcription` for `text` heard on `track` (`inbound` or
    /// `outbound`) when the call transcribes that track.
    pub fn transcribe(&mut self, id: &str, track: &str, text: &str) {
        let listening = self
            .calls
            .get(id)
            .and_then(|c| c.activity.transcription)
            .is_some_and(|tracks| tracks == "both" || tracks == track);
        if !listening {
            return;
        }
        let data = json!({
            "confidence": CONFIDENCE,
            "is_final": true,
            "transcript": text,
            "transcription_track": track,
        });
        let context = self.call_context(id).with("transcription_data", data);
        self.emit(&CALL_TRANSCRIPTION, &context);
    }
}
