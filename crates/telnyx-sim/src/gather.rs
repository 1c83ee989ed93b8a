//! Collecting the caller's keys: gather, gather_using_audio,
//! gather_using_speak and gather_stop, and what a key press does.
//!
//! A gather collects digits from the moment it starts; its prompt (if any)
//! queues like any audio and stops at the first key. The first-digit timeout
//! (`initial_timeout_millis` of a plain gather, `timeout_millis` of one that
//! prompts) runs from the end of the prompt, the inter-digit timeout from
//! each key, and a plain gather's `timeout_millis` from the command. A try
//! ends at the terminating
//! digit, at `maximum_digits`, or when the inter-digit timeout passes; it is
//! `valid` when it has `minimum_digits` to `maximum_digits` digits, all of
//! `valid_digits`. An invalid or silent try is repeated (the invalid prompt,
//! then the prompt) while `maximum_tries` allows; then `call.gather.ended`
//! says `invalid` or `timeout`. Keys pressed while no gather runs each send
//! `call.dtmf.received`.

use std::time::Duration;

use serde_json::Value;

use super::activity::{Gather, Prompt, Sound};
use super::error::ApiError;
use super::events::{CALL_DTMF_RECEIVED, CALL_GATHER_ENDED, Context, With};
use super::media::{LANGUAGES, VOICE_PROVIDERS, voice_settings};
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// The keys of a phone.
pub const KEYS: &str = "0123456789*#ABCD";

/// `POST /calls/{call_control_id}/actions/gather`
pub fn gather(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    if request
        .str("gather_id")?
        .is_some_and(|g| g.chars().count() > 40)
    {
        return Err(ApiError::invalid_value(
            "gather_id",
            "The 'gather_id' parameter must be 1 to 40 characters long.",
        ));
    }
    let mut gather = rules(request)?;
    gather.initial_timeout = millis(request, "initial_timeout_millis", 5_000)?;
    let overall = millis(request, "timeout_millis", 60_000)?;
    start(world, request, gather, None, Some(overall))
}

/// `POST /calls/{call_control_id}/actions/gather_using_audio`
pub fn gather_using_audio(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let sound =
        audio(request, "audio_url", "media_name")?.ok_or_else(|| ApiError::missing("audio_url"))?;
    let invalid = audio(request, "invalid_audio_url", "invalid_media_name")?;
    let gather = tries(request, rules(request)?)?;
    start(
        world,
        request,
        gather,
        Some(Prompt { sound, invalid }),
        None,
    )
}

/// `POST /calls/{call_control_id}/actions/gather_using_speak`: Telnyx sends
/// no speak events for its prompts.
pub fn gather_using_speak(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    request.required_str("payload")?;
    request.required_str("voice")?;
    request.str("invalid_payload")?;
    request.one_of("payload_type", &["text", "ssml"])?;
    request.one_of("service_level", &["basic", "premium"])?;
    request.one_of("language", LANGUAGES)?;
    voice_settings(request, VOICE_PROVIDERS)?;
    let invalid = request.str("invalid_payload")?.map(|_| Sound::Silent);
    let gather = tries(request, rules(request)?)?;
    let prompt = Prompt {
        sound: Sound::Silent,
        invalid,
    };
    start(world, request, gather, Some(prompt), None)
}

/// `POST /calls/{call_control_id}/actions/gather_stop`: ends the running
/// gather with status `cancelled` and the digits pressed so far.
pub fn gather_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    if world.commanded_call(request)?.activity.gather.is_none() {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "The call has no gather running.",
        ));
    }
    world.set_client_state(id, client_state);
    world.stop_prompt(id);
    world.end_gather(id, "cancelled");
    Ok(Reply::ok())
}

/// The digit rules every gather takes.
fn rules(request: &Request) -> Result<Gather, ApiError> {
    let minimum_digits = request.int("minimum_digits", 1..=128)?.unwrap_or(1) as usize;
    let maximum_digits = request.int("maximum_digits", 1..=128)?.unwrap_or(128) as usize;
    if minimum_digits > maximum_digits {
        return Err(ApiError::invalid_value(
            "minimum_digits",
            "The 'minimum_digits' parameter cannot be greater than 'maximum_digits'.",
        ));
    }
    let terminating_digit = match request.body.get("terminating_digit") {
        // An explicit empty string turns the terminating digit off.
        Some(Value::String(s)) if s.is_empty() => None,
        _ => Some(keys(request, "terminating_digit", "#")?),
    };
    let terminating_digit = match terminating_digit.as_deref().map(str::chars) {
        None => None,
        Some(mut chars) => match (chars.next(), chars.next()) {
            (Some(key), None) => Some(key),
            _ => {
                return Err(ApiError::invalid_value(
                    "terminating_digit",
                    "The 'terminating_digit' parameter must be a single key.",
                ));
            }
        },
    };
    Ok(Gather {
        id: 0,
        generation: 0,
        minimum_digits,
        maximum_digits,
        terminating_digit,
        valid_digits: keys(request, "valid_digits", "0123456789#*")?,
        initial_timeout: millis(request, "timeout_millis", 60_000)?,
        inter_digit_timeout: millis(request, "inter_digit_timeout_millis", 5_000)?,
        tries_left: 1,
        digits: String::new(),
        prompt: None,
    })
}

/// `maximum_tries` (3 by default) for the gathers that prompt; their
/// `timeout_millis` is the wait for a first digit after each prompt.
fn tries(request: &Request, mut gather: Gather) -> Result<Gather, ApiError> {
    gather.tries_left = request.int("maximum_tries", 1..=128)?.unwrap_or(3) as u32;
    Ok(gather)
}

/// A string of phone keys, or `default`.
fn keys(request: &Request, field: &str, default: &str) -> Result<String, ApiError> {
    let value = request.str(field)?.unwrap_or(default);
    if value.chars().all(|c| KEYS.contains(c)) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid_value(
            field,
            format_args!("The '{field}' parameter may only contain 0-9, *, #, A-D."),
        ))
    }
}

fn millis(request: &Request, field: &str, default: i64) -> Result<Duration, ApiError> {
    let value = request.int(field, 1..=i64::from(i32::MAX))?;
    Ok(Duration::from_millis(value.unwrap_or(default) as u64))
}

/// A prompt file: a URL or a stored media name, not both.
fn audio(request: &Request, url: &str, name: &str) -> Result<Option<Sound>, ApiError> {
    let mut context = Context::new().with("overlay", false);
    match (request.str(url)?, request.str(name)?) {
        (Some(value), None) => context.insert("media_url".into(), value.into()),
        (None, Some(value)) => context.insert("media_name".into(), value.into()),
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_value(
                name,
                format_args!("{url} and {name} cannot be used together."),
            ));
        }
    };
    Ok(Some(Sound::Playback { context }))
}

/// Starts a gather on the call the request names, replacing one running;
/// `overall` bounds a gather without prompt.
fn start(
    world: &mut World,
    request: &Request,
    mut gather: Gather,
    prompt: Option<Prompt>,
    overall: Option<Duration>,
) -> Result<Reply, ApiError> {
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    world.commanded_call(request)?;
    world.set_client_state(id, client_state);
    if world
        .calls
        .get(id)
        .is_some_and(|c| c.activity.gather.is_some())
    {
        world.stop_prompt(id);
        world.end_gather(id, "cancelled");
    }
    gather.id = world.next_seq();
    gather.generation = world.next_seq();
    gather.prompt = prompt.clone();
    let gather_id = gather.id;
    if let Some(call) = world.calls.get_mut(id) {
        call.activity.gather = Some(gather);
    }
    if let Some(overall) = overall {
        let owner = id.to_owned();
        world.later(overall, move |world| {
            let running = world
                .calls
                .get(&owner)
                .and_then(|c| c.activity.gather.as_ref());
            if running.is_some_and(|g| g.id == gather_id) {
                world.end_gather(&owner, "timeout");
            }
        });
    }
    match prompt {
        Some(prompt) => world.queue_audio(id, prompt.sound, Some(1), true),
        None => world.gather_listens(id),
    }
    Ok(Reply::ok())
}

impl World {
    /// The prompt ended (or there is none): the first-digit timeout starts.
    pub fn gather_listens(&mut self, id: &str) {
        let Some(gather) = self.calls.get(id).and_then(|c| c.activity.gather.as_ref()) else {
            return;
        };
        if !gather.digits.is_empty() {
            return;
        }
        let (generation, after) = (gather.generation, gather.initial_timeout);
        self.gather_timer(id, generation, after);
    }

    /// After `after`, ends the try if nothing happened in between.
    fn gather_timer(&mut self, id: &str, generation: u64, after: Duration) {
        let id = id.to_owned();
        self.later(after, move |world| {
            let gather = world
                .calls
                .get(&id)
                .and_then(|c| c.activity.gather.as_ref());
            if gather.is_some_and(|g| g.generation == generation) {
                world.end_try(&id);
            }
        });
    }

    /// The far end pressed `digits`: they go to the running gather, and
    /// each one left over (or every one, when none runs) is sent as
    /// `call.dtmf.received`.
    pub fn press(&mut self, id: &str, digits: &str) {
        // The inter-digit timeout runs from the last key of the press.
        let mut timer = None;
        for key in digits.chars() {
            let generation = self.next_seq();
            let Some(gather) = self
                .calls
                .get_mut(id)
                .and_then(|c| c.activity.gather.as_mut())
            else {
                let context = self.call_context(id).with("digit", key.to_string());
                self.emit(&CALL_DTMF_RECEIVED, &context);
                continue;
            };
            gather.generation = generation;
            let ends_try = if gather.terminating_digit == Some(key) {
                true
            } else {
                gather.digits.push(key);
                gather.digits.chars().count() >= gather.maximum_digits
            };
            timer = Some((generation, gather.inter_digit_timeout));
            self.stop_prompt(id);
            if ends_try {
                timer = None;
                self.end_try(id);
            }
        }
        if let Some((generation, after)) = timer {
            self.gather_timer(id, generation, after);
        }
    }

    /// A try is over: valid digits end the gather; otherwise it is tried
    /// again while tries are left, and ends `invalid` (or `timeout` when
    /// nothing was pressed) when none are.
    fn end_try(&mut self, id: &str) {
        let generation = self.next_seq();
        let Some(gather) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.activity.gather.as_mut())
        else {
            return;
        };
        let count = gather.digits.chars().count();
        let valid = (gather.minimum_digits..=gather.maximum_digits).contains(&count)
            && gather
                .digits
                .chars()
                .all(|c| gather.valid_digits.contains(c));
        let silent = count == 0;
        if valid {
            self.end_gather(id, "valid");
            return;
        }
        if gather.tries_left <= 1 {
            self.end_gather(id, if silent { "timeout" } else { "invalid" });
            return;
        }
        gather.tries_left -= 1;
        gather.digits.clear();
        gather.generation = generation;
        let Some(prompt) = gather.prompt.clone() else {
            return;
        };
        if let (Some(invalid), false) = (prompt.invalid, silent) {
            self.queue_audio(id, invalid, Some(1), false);
        }
        self.queue_audio(id, prompt.sound, Some(1), true);
    }

    /// Ends the running gather with `status` and the digits pressed so far.
    pub fn end_gather(&mut self, id: &str, status: &str) {
        let Some(gather) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.activity.gather.take())
        else {
            return;
        };
        let context = self
            .call_context(id)
            .with("digits", gather.digits)
            .with("status", status);
        self.emit(&CALL_GATHER_ENDED, &context);
    }
}
