//! Recording a call: start, pause, resume, stop, and the recording saved
//! when it stops or the call ends (`call.recording.saved`, then
//! `call.recording.transcription.saved` when a transcription was asked for:
//! the text is what the far end said while the recording ran).

use std::time::Duration;

use serde_json::json;

use super::activity::CallRecording;
use super::clock::rfc3339;
use super::error::ApiError;
use super::events::{CALL_RECORDING_SAVED, CALL_RECORDING_TRANSCRIPTION_SAVED, With};
use super::ids;
use super::model::Recording;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

const FORMATS: &[&str] = &["wav", "mp3"];
const CHANNELS: &[&str] = &["single", "dual"];
const TRACKS: &[&str] = &["both", "inbound", "outbound"];

/// The recording `record: "record-from-answer"` asks dial, answer or bridge
/// for, with its `record_*` settings (mp3, dual channel by default).
pub fn record_from_answer(request: &Request) -> Result<Option<Recording>, ApiError> {
    let record = request.one_of("record", &["record-from-answer"])?;
    let format = request.one_of("record_format", FORMATS)?.unwrap_or("mp3");
    let channels = request
        .one_of("record_channels", CHANNELS)?
        .unwrap_or("dual");
    request.one_of("record_track", TRACKS)?;
    request.one_of("record_trim", &["trim-silence"])?;
    request.int("record_max_length", 0..=14_400)?;
    request.int("record_timeout_secs", 0..=14_400)?;
    custom_file_name(request, "record_custom_file_name")?;
    Ok(record.map(|_| Recording {
        id: ids::uuid(),
        format,
        channels,
        started_at: std::time::SystemTime::now(),
        paused: false,
    }))
}

/// `POST /calls/{call_control_id}/actions/record_start`
pub fn record_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let format = request.required_one_of("format", FORMATS)?;
    let channels = request.required_one_of("channels", CHANNELS)?;
    let client_state = request.str("client_state")?;
    request.one_of("recording_track", TRACKS)?;
    request.one_of("trim", &["trim-silence"])?;
    request.one_of("transcription_engine", &["A", "B", "deepgram/nova-3"])?;
    request.str("transcription_language")?;
    request.bool("play_beep")?;
    let max_length = request.int("max_length", 0..=14_400)?.unwrap_or(0);
    request.int("timeout_secs", 0..=14_400)?;
    custom_file_name(request, "custom_file_name")?;
    let transcription = request.bool("transcription")?.unwrap_or(false);
    let now = world.now();
    let call = world.commanded_call(request)?;
    if call.activity.recording.is_some() {
        return Err(ApiError::invalid_value(
            "format",
            "The call is already being recorded.",
        ));
    }
    let recording = Recording {
        id: ids::uuid(),
        format,
        channels,
        started_at: now,
        paused: false,
    };
    let recording_id = recording.id.clone();
    call.recording_id = Some(recording_id.clone());
    call.activity.recording = Some(CallRecording {
        recording,
        transcription,
        heard: Vec::new(),
    });
    let id = request.param("call_control_id").to_owned();
    world.set_client_state(&id, client_state);
    if max_length > 0 {
        world.later(Duration::from_secs(max_length as u64), move |world| {
            let running = world
                .calls
                .get(&id)
                .and_then(|c| c.activity.recording.as_ref());
            if running.is_some_and(|r| r.recording.id == recording_id) {
                world.save_call_recording(&id, None);
            }
        });
    }
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/record_stop`
pub fn record_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let client_state = request.str("client_state")?;
    recording_of(world, request)?;
    world.save_call_recording(request.param("call_control_id"), client_state);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/record_pause`
pub fn record_pause(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    recording_of(world, request)?.paused = true;
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/record_resume`
pub fn record_resume(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    recording_of(world, request)?.paused = false;
    Ok(Reply::ok())
}

/// The running recording a pause, resume or stop is for (422 when the call
/// has none, or it is not the `recording_id` named).
fn recording_of<'a>(
    world: &'a mut World,
    request: &Request,
) -> Result<&'a mut Recording, ApiError> {
    let wanted = request.str("recording_id")?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    world.commanded_call(request)?;
    world.set_client_state(id, client_state);
    world
        .calls
        .get_mut(id)
        .and_then(|c| c.activity.recording.as_mut())
        .map(|r| &mut r.recording)
        .filter(|r| wanted.is_none_or(|w| r.id == w))
        .ok_or_else(|| {
            ApiError::invalid_value(
                "recording_id",
                "The call has no recording running with this recording_id.",
            )
        })
}

/// A custom file name: 1 to 40 characters.
fn custom_file_name(request: &Request, field: &str) -> Result<(), ApiError> {
    match request.str(field)? {
        Some(name) if name.chars().count() > 40 => Err(ApiError::invalid_value(
            field,
            format_args!("The '{field}' parameter must be 1 to 40 characters long."),
        )),
        _ => Ok(()),
    }
}

impl World {
    /// Stops a call's recording and sends `call.recording.saved` (and its
    /// transcription when asked for); nothing when none runs.
    pub fn save_call_recording(&mut self, id: &str, client_state: Option<&str>) {
        let now = self.now();
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let Some(running) = call.activity.recording.take() else {
            return;
        };
        let recording = running.recording;
        let url = format!(
            "https://sandbox.invalid/recordings/{}.{}",
            recording.id, recording.format
        );
        let urls = json!({ recording.format: url });
        let mut context = call
            .context()
            .with("channels", recording.channels)
            .with("recording_started_at", rfc3339(recording.started_at))
            .with("recording_ended_at", rfc3339(now))
            .with("recording_urls", urls.clone())
            .with("public_recording_urls", urls);
        if let Some(state) = client_state {
            context.insert("client_state".into(), state.into());
        }
        let party = call.calling_party_type();
        self.emit(&CALL_RECORDING_SAVED, &context);
        if running.transcription {
            let context = context
                .with("calling_party_type", party)
                .with("recording_id", recording.id.as_str())
                .with("recording_transcription_id", ids::uuid())
                .with("status", "completed")
                .with("transcription_text", running.heard.join(" "));
            self.emit(&CALL_RECORDING_TRANSCRIPTION_SAVED, &context);
        }
    }
}
