//! What a call hears: speak and playback, played one after the other.
//!
//! As on Telnyx, audio queues: a speak or playback issued while another
//! plays waits its turn, unless it asks to `stop` the `current` one or `all`
//! of them. Each sends its `started` event when it starts and its `ended`
//! event ([`Timing::media_duration`](super::Timing) per play later, or when
//! stopped, or with status `call_hangup`). An overlay playback plays over
//! the main audio, on its own.

use serde_json::Value;

use super::activity::{Audio, Sound};
use super::error::ApiError;
use super::events::{
    CALL_PLAYBACK_ENDED, CALL_PLAYBACK_STARTED, CALL_SPEAK_ENDED, CALL_SPEAK_STARTED, Context, With,
};
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// The languages Telnyx's basic voices speak.
pub const LANGUAGES: &[&str] = &[
    "arb",
    "cmn-CN",
    "cy-GB",
    "da-DK",
    "de-DE",
    "en-AU",
    "en-GB",
    "en-GB-WLS",
    "en-IN",
    "en-US",
    "es-ES",
    "es-MX",
    "es-US",
    "fr-CA",
    "fr-FR",
    "hi-IN",
    "is-IS",
    "it-IT",
    "ja-JP",
    "ko-KR",
    "nb-NO",
    "nl-NL",
    "pl-PL",
    "pt-BR",
    "pt-PT",
    "ro-RO",
    "ru-RU",
    "sv-SE",
    "tr-TR",
];
pub const LEGS: &[&str] = &["self", "opposite", "both"];
/// How many audio items may wait on one call.
const MAX_QUEUED: usize = 100;

/// `POST /calls/{call_control_id}/actions/speak`
pub fn speak(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let text = request.required_str("payload")?;
    request.required_str("voice")?;
    let payload_type = request.one_of("payload_type", &["text", "ssml"])?;
    request.one_of("service_level", &["basic", "premium"])?;
    request.one_of("language", LANGUAGES)?;
    request.one_of("target_legs", LEGS)?;
    voice_settings(request, VOICE_PROVIDERS)?;
    let plays = plays(request)?;
    let stop = stop(request, None)?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    world.commanded_call(request)?;
    world.set_client_state(id, client_state);
    let text = (payload_type != Some("ssml")).then(|| text.to_owned());
    world.play(id, stop, Sound::Speak { text }, plays)?;
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/playback_start`
pub fn playback_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let audio_url = request.str("audio_url")?;
    let media_name = request.str("media_name")?;
    let content = request.str("playback_content")?;
    let mut context = Context::new();
    match (audio_url, media_name, content) {
        (Some(url), None, None) => context.insert("media_url".into(), url.into()),
        (None, Some(name), None) => context.insert("media_name".into(), name.into()),
        // Telnyx leaves both empty in the events of inline audio.
        (None, None, Some(_)) => None,
        (None, None, None) => return Err(ApiError::missing("audio_url")),
        _ => {
            return Err(ApiError::invalid_value(
                "media_name",
                "Only one of audio_url, media_name and playback_content can be given.",
            ));
        }
    };
    request.one_of("audio_type", &["mp3", "wav"])?;
    request.bool("cache_audio")?;
    request.one_of("target_legs", LEGS)?;
    let overlay = request.bool("overlay")?.unwrap_or(false);
    let plays = plays(request)?;
    let stop = stop(request, None)?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let call = world.commanded_call(request)?;
    if overlay && !call.activity.audio.iter().any(|a| a.started) {
        return Err(ApiError::invalid_value(
            "overlay",
            "An overlay can only be played while other audio is playing.",
        ));
    }
    if overlay && call.activity.overlay.is_some() {
        return Err(ApiError::invalid_value(
            "overlay",
            "An overlay is already playing.",
        ));
    }
    world.set_client_state(id, client_state);
    context.insert("overlay".into(), overlay.into());
    let sound = Sound::Playback { context };
    if overlay {
        world.play_overlay(id, sound, plays);
    } else {
        world.play(id, stop, sound, plays)?;
    }
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/playback_stop`: stops the current
/// audio, or all of it (the default); with `overlay`, the overlay.
pub fn playback_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let overlay = request.bool("overlay")?.unwrap_or(false);
    let stop = stop(request, Some("all"))?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    world.commanded_call(request)?;
    world.set_client_state(id, client_state);
    if overlay {
        world.stop_overlay(id, "cancelled");
    } else if stop == Some("current") {
        world.stop_current_audio(id, "cancelled");
    } else {
        world.stop_all_audio(id, "cancelled");
    }
    Ok(Reply::ok())
}

/// `loop`: how many plays (1 to 100), or `infinity` (`None`).
fn plays(request: &Request) -> Result<Option<u32>, ApiError> {
    match request.body.get("loop") {
        None | Some(Value::Null) => Ok(Some(1)),
        Some(Value::String(s)) if s == "infinity" => Ok(None),
        Some(Value::Number(_)) => Ok(request.int("loop", 1..=100)?.map(|n| n as u32)),
        Some(_) => Err(ApiError::wrong_type(
            "loop",
            "an integer from 1 to 100 or \"infinity\"",
        )),
    }
}

/// `stop`: `current` or `all`.
fn stop(
    request: &Request,
    default: Option<&'static str>,
) -> Result<Option<&'static str>, ApiError> {
    Ok(request.one_of("stop", &["current", "all"])?.or(default))
}

/// Every text-to-speech provider `voice_settings` may name.
pub const VOICE_PROVIDERS: &[&str] = &[
    "elevenlabs",
    "telnyx",
    "aws",
    "minimax",
    "azure",
    "rime",
    "resemble",
    "inworld",
    "xai",
];
/// The providers of an AI's voice: neither Minimax nor Inworld.
pub const AI_VOICE_PROVIDERS: &[&str] = &[
    "elevenlabs",
    "telnyx",
    "aws",
    "azure",
    "rime",
    "resemble",
    "xai",
];

/// A `voice_settings` object must name its provider `type`, one of `providers`.
pub fn voice_settings(request: &Request, providers: &[&'static str]) -> Result<(), ApiError> {
    let field = "voice_settings";
    match request.body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(settings)) => match settings.get("type") {
            Some(Value::String(kind)) if providers.contains(&kind.as_str()) => Ok(()),
            Some(Value::String(_)) => Err(ApiError::not_one_of("voice_settings/type", providers)),
            _ => Err(ApiError::missing("voice_settings/type")),
        },
        Some(_) => Err(ApiError::wrong_type(field, "an object")),
    }
}

impl World {
    /// Queues a sound after applying `stop`; it starts when nothing plays.
    fn play(
        &mut self,
        id: &str,
        stop: Option<&str>,
        sound: Sound,
        plays: Option<u32>,
    ) -> Result<(), ApiError> {
        match stop {
            Some("current") => self.stop_current_audio(id, "cancelled"),
            Some(_) => self.stop_all_audio(id, "cancelled"),
            None => {}
        }
        let waiting = self.calls.get(id).map_or(0, |c| c.activity.audio.len());
        if waiting >= MAX_QUEUED {
            return Err(ApiError::invalid_value(
                "call_control_id",
                "Too much audio is waiting to be played on this call.",
            ));
        }
        self.queue_audio(id, sound, plays, false);
        Ok(())
    }

    /// Adds audio to a call's line and starts it if nothing plays.
    pub fn queue_audio(&mut self, id: &str, sound: Sound, plays: Option<u32>, prompt: bool) {
        let audio_id = self.next_seq();
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.activity.audio.push_back(Audio {
            id: audio_id,
            sound,
            plays,
            started: false,
            prompt,
        });
        self.start_audio(id);
    }

    /// Starts the first audio in line if it has not started.
    fn start_audio(&mut self, id: &str) {
        let Some(audio) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.activity.audio.front_mut())
            .filter(|a| !a.started)
        else {
            return;
        };
        audio.started = true;
        let audio = audio.clone();
        self.emit_audio(id, &audio, None);
        if let Sound::Speak { text: Some(text) } = &audio.sound {
            self.transcribe(id, "outbound", text);
        }
        if let Some(plays) = audio.plays {
            let after = self.timing.media_duration * plays;
            let (id, audio_id) = (id.to_owned(), audio.id);
            self.later(after, move |world| world.audio_done(&id, audio_id));
        }
    }

    /// Audio that played to its end: `ended` with `completed`, and the next.
    fn audio_done(&mut self, id: &str, audio_id: u64) {
        let front = self.calls.get(id).and_then(|c| c.activity.audio.front());
        if front.is_some_and(|a| a.id == audio_id) {
            self.stop_current_audio(id, "completed");
            return;
        }
        let overlay = self.calls.get(id).and_then(|c| c.activity.overlay.as_ref());
        if overlay.is_some_and(|a| a.id == audio_id) {
            self.stop_overlay(id, "completed");
        }
    }

    /// Ends the audio playing now with `status`, and starts the next.
    pub fn stop_current_audio(&mut self, id: &str, status: &str) {
        let Some(audio) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.activity.audio.pop_front())
        else {
            return;
        };
        if audio.started {
            self.emit_audio(id, &audio, Some(status));
        }
        if audio.prompt {
            self.gather_listens(id);
        }
        self.start_audio(id);
    }

    /// Ends the audio playing now and drops what waits (it never started,
    /// so it sends nothing); the overlay too.
    pub fn stop_all_audio(&mut self, id: &str, status: &str) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let dropped: Vec<Audio> = call.activity.audio.drain(..).collect();
        for audio in dropped.iter().filter(|a| a.started) {
            self.emit_audio(id, audio, Some(status));
        }
        self.stop_overlay(id, status);
        if dropped.iter().any(|a| a.prompt) {
            self.gather_listens(id);
        }
    }

    /// Drops a gather's prompt, playing or waiting, without touching the
    /// rest of the line (a digit was pressed).
    pub fn stop_prompt(&mut self, id: &str) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let Some(index) = call.activity.audio.iter().position(|a| a.prompt) else {
            return;
        };
        if index == 0 {
            if let Some(audio) = call.activity.audio.pop_front()
                && audio.started
            {
                self.emit_audio(id, &audio, Some("cancelled"));
            }
            self.start_audio(id);
        } else {
            call.activity.audio.remove(index);
        }
    }

    fn play_overlay(&mut self, id: &str, sound: Sound, plays: Option<u32>) {
        let audio = Audio {
            id: self.next_seq(),
            sound,
            plays,
            started: true,
            prompt: false,
        };
        self.emit_audio(id, &audio, None);
        if let Some(plays) = audio.plays {
            let after = self.timing.media_duration * plays;
            let (id, audio_id) = (id.to_owned(), audio.id);
            self.later(after, move |world| world.audio_done(&id, audio_id));
        }
        if let Some(call) = self.calls.get_mut(id) {
            call.activity.overlay = Some(audio);
        }
    }

    fn stop_overlay(&mut self, id: &str, status: &str) {
        let overlay = self
            .calls
            .get_mut(id)
            .and_then(|c| c.activity.overlay.take());
        if let Some(audio) = overlay {
            self.emit_audio(id, &audio, Some(status));
        }
    }

    /// `started` (no status) or `ended` with `status`. Speech stopped early
    /// ends without a status: Telnyx's set has none for it.
    fn emit_audio(&mut self, id: &str, audio: &Audio, ended: Option<&str>) {
        let mut context = self.call_context(id);
        let kind = match (&audio.sound, ended) {
            (Sound::Silent, _) => return,
            (Sound::Speak { .. }, None) => &CALL_SPEAK_STARTED,
            (Sound::Speak { .. }, Some(status)) => {
                if status != "cancelled" {
                    context.insert("status".into(), status.into());
                }
                &CALL_SPEAK_ENDED
            }
            (Sound::Playback { context: media }, ended) => {
                context.extend(media.clone());
                match ended {
                    None => &CALL_PLAYBACK_STARTED,
                    Some(status) => {
                        context = context.with("status", status);
                        &CALL_PLAYBACK_ENDED
                    }
                }
            }
        };
        self.emit(kind, &context);
    }
}
