//! What a conference hears and keeps: audio, speech, recordings, DTMF.
//!
//! Play and speak send their `started` event at once and `ended` a moment
//! later ([`Timing::media_duration`](super::Timing)), per participant when
//! the command names participants; stop ends playback early. Stopping a
//! recording (or ending the conference) sends `conference.recording.saved`.

use serde_json::json;

use super::clock::rfc3339;
use super::conferences::{REGIONS, participant_of};
use super::error::ApiError;
use super::events::{Context, MediaKind, PLAYBACK, RECORDING_SAVED, SPEAK, With};
use super::ids;
use super::model::{Media, Recording};
use super::participants::targets;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// `POST /conferences/{id}/actions/play`
pub fn play(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let audio_url = request.str("audio_url")?;
    let media_name = request.str("media_name")?;
    let mut context = Context::new();
    match (audio_url, media_name) {
        (Some(url), None) => context.insert("media_url".into(), url.into()),
        (None, Some(name)) => context.insert("media_name".into(), name.into()),
        (None, None) => return Err(ApiError::missing("audio_url")),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_value(
                "media_name",
                "audio_url and media_name cannot be used together.",
            ));
        }
    };
    let id = request.param("id");
    let named = targets(world, id, request, false)?;
    world.start_media(id, &PLAYBACK, named, context);
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/speak`
pub fn speak(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    request.required_str("payload")?;
    request.required_str("voice")?;
    request.one_of("payload_type", &["text", "ssml"])?;
    request.str("language")?;
    let id = request.param("id");
    let named = targets(world, id, request, false)?;
    world.start_media(id, &SPEAK, named, Context::new());
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/stop`: ends the audio playing now.
pub fn stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    let named = targets(world, id, request, false)?;
    let playing: Vec<u64> = world
        .live_conference(id)?
        .media
        .iter()
        .filter(|m| m.kind == &PLAYBACK)
        .filter(|m| named.is_empty() || m.call_control_ids.iter().any(|c| named.contains(c)))
        .map(|m| m.id)
        .collect();
    for media in playing {
        world.finish_media(id, media);
    }
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/record_start`
pub fn record_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let format = request.required_one_of("format", &["wav", "mp3"])?;
    let channels = request
        .one_of("channels", &["single", "dual"])?
        .unwrap_or("single");
    request.one_of("trim", &["trim-silence"])?;
    request.bool("play_beep")?;
    let now = world.now();
    let conference = world.live_conference(request.param("id"))?;
    if conference.recording.is_some() {
        return Err(ApiError::invalid_value(
            "format",
            "The conference is already being recorded.",
        ));
    }
    conference.recording = Some(Recording {
        id: ids::uuid(),
        format,
        channels,
        started_at: now,
        paused: false,
    });
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/record_stop`
pub fn record_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    let client_state = request.str("client_state")?;
    recording_of(world, request)?;
    world.save_recording(id, client_state);
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/record_pause`
pub fn record_pause(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    recording_of(world, request)?.paused = true;
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/record_resume`
pub fn record_resume(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    recording_of(world, request)?.paused = false;
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/send_dtmf`
pub fn send_dtmf(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let digits = request.required_str("digits")?;
    if !digits
        .chars()
        .all(|c| c.is_ascii_digit() || "*#ABCDwW".contains(c))
    {
        return Err(ApiError::invalid_value(
            "digits",
            "Digits may only contain 0-9, *, #, A-D, w and W.",
        ));
    }
    request.int("duration_millis", 100..=500)?;
    request.str("client_state")?;
    targets(world, request.param("id"), request, false)?;
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/gather_using_audio`
pub fn gather_using_audio(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    let call_id = request.required_str("call_control_id")?;
    for field in ["minimum_digits", "maximum_digits", "maximum_tries"] {
        request.int(field, 1..=128)?;
    }
    world.live_conference(id)?;
    world.live_call(call_id, "call_control_id")?;
    participant_of(world, id, call_id)?;
    Ok(Reply::ok())
}

/// The recording a pause, resume or stop is for (404 10005 when there is
/// none, or it is not the `recording_id` named).
fn recording_of<'a>(
    world: &'a mut World,
    request: &Request,
) -> Result<&'a mut Recording, ApiError> {
    let wanted = request.str("recording_id")?;
    request.one_of("region", REGIONS)?;
    world
        .live_conference(request.param("id"))?
        .recording
        .as_mut()
        .filter(|r| wanted.is_none_or(|w| r.id == w))
        .ok_or_else(ApiError::recording_not_found)
}

impl World {
    /// Starts a play or speak: `started` now, `ended` after the media duration.
    fn start_media(
        &mut self,
        id: &str,
        kind: &'static MediaKind,
        call_control_ids: Vec<String>,
        context: Context,
    ) {
        let media = Media {
            id: self.next_seq(),
            kind,
            call_control_ids,
            context,
        };
        let media_id = media.id;
        self.emit_media(id, &media, true);
        if let Some(conference) = self.conferences.get_mut(id) {
            conference.media.push(media);
        }
        let conference_id = id.to_owned();
        let after = self.timing.media_duration;
        self.later(after, move |world| {
            world.finish_media(&conference_id, media_id)
        });
    }

    /// Ends every play and speak still going (the conference is ending).
    pub fn finish_all_media(&mut self, id: &str) {
        let going: Vec<u64> = self
            .conferences
            .get(id)
            .map(|c| c.media.iter().map(|m| m.id).collect())
            .unwrap_or_default();
        for media in going {
            self.finish_media(id, media);
        }
    }

    /// Ends a play or speak if it is still going.
    fn finish_media(&mut self, id: &str, media_id: u64) {
        let Some(conference) = self.conferences.get_mut(id) else {
            return;
        };
        let Some(index) = conference.media.iter().position(|m| m.id == media_id) else {
            return;
        };
        let media = conference.media.remove(index);
        self.emit_media(id, &media, false);
    }

    fn emit_media(&mut self, id: &str, media: &Media, started: bool) {
        let Some(conference) = self.conferences.get(id) else {
            return;
        };
        let mut context = conference.context();
        context.extend(media.context.clone());
        let kind = media.kind;
        if media.call_control_ids.is_empty() {
            let event = if started { kind.started } else { kind.ended };
            self.emit(event, &context);
            return;
        }
        let event = if started {
            kind.participant_started
        } else {
            kind.participant_ended
        };
        for call_id in &media.call_control_ids {
            let mut participant = self.call_context(call_id);
            participant.extend(context.clone());
            self.emit(event, &participant);
        }
    }

    /// Stops a running recording and sends `conference.recording.saved`.
    pub fn save_recording(&mut self, id: &str, client_state: Option<&str>) {
        let now = self.now();
        let Some(conference) = self.conferences.get_mut(id) else {
            return;
        };
        let Some(recording) = conference.recording.take() else {
            return;
        };
        let creator = conference.creator_call_control_id.clone();
        let url = format!(
            "https://sandbox.invalid/recordings/{}.{}",
            recording.id, recording.format
        );
        let urls = json!({ recording.format: url });
        let mut context = self
            .call_context(&creator)
            .with("recording_id", recording.id.as_str())
            .with("format", recording.format)
            .with("channels", recording.channels)
            .with("recording_started_at", rfc3339(recording.started_at))
            .with("recording_ended_at", rfc3339(now))
            .with("recording_urls", urls.clone())
            .with("public_recording_urls", urls);
        context.remove("client_state");
        if let Some(state) = client_state {
            context.insert("client_state".into(), state.into());
        }
        if let Some(conference) = self.conferences.get(id) {
            context.extend(conference.context());
        }
        self.emit(&RECORDING_SAVED, &context);
    }
}
