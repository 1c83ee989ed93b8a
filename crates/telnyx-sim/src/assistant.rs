//! AI assistants and conversation relays on a call: start, stop, join,
//! add messages. What every AI conversation shares (one per call, its
//! history, how it ends) is in `conversation`.
//!
//! The simulated assistant is no language model: it keeps what the caller
//! says (`/_sim/calls/{id}/speech`) and the messages added to it, and says
//! nothing back.

use serde_json::{Map, Value, json};

use super::activity::ConversationKind;
use super::conversation::{array, begin, busy, object, running, speech_models};
use super::error::ApiError;
use super::media::{AI_VOICE_PROVIDERS, VOICE_PROVIDERS, voice_settings};
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// `POST /calls/{call_control_id}/actions/ai_assistant_start`
pub fn ai_assistant_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let assistant = object(request, "assistant")?;
    let assistant_id = match assistant {
        Some(assistant) => Some(required_in(assistant, "assistant", "id")?),
        None => None,
    };
    let history = messages(request, "message_history")?;
    participants(request)?;
    request.str("greeting")?;
    request.bool("send_message_history_updates")?;
    object(request, "interruption_settings")?;
    voice_settings(request, AI_VOICE_PROVIDERS)?;
    let mut context = speech_models(request)?;
    if let Some(id) = assistant_id {
        context.insert("assistant_id".into(), id.into());
    }
    if let Some(model) = assistant
        .and_then(|a| a.get("model"))
        .and_then(Value::as_str)
    {
        context.insert("llm_model".into(), model.into());
    }
    let mut conversation = begin(world, request, ConversationKind::Assistant, context)?;
    for (role, content) in history {
        conversation.say(role, content);
    }
    if let Some(greeting) = request.str("greeting")? {
        conversation.say("assistant", greeting);
    }
    let id = conversation.id.clone();
    world.conversations.insert(id.clone(), conversation);
    Ok(Reply::data(json!({"result": "ok", "conversation_id": id})))
}

/// `POST /calls/{call_control_id}/actions/ai_assistant_stop`
pub fn ai_assistant_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let conversation = running(world, request, "an AI assistant", |k| {
        matches!(k, ConversationKind::Assistant)
    })?;
    world.end_conversation(&conversation, "stopped");
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/ai_assistant_join`: brings this
/// call into an assistant conversation running on another call.
pub fn ai_assistant_join(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let conversation_id = request.required_str("conversation_id")?;
    let participant =
        object(request, "participant")?.ok_or_else(|| ApiError::missing("participant"))?;
    required_in(participant, "participant", "id")?;
    role(participant, "participant", &["user"])?;
    let ends = match participant.get("on_hangup").and_then(Value::as_str) {
        None | Some("continue_conversation") => false,
        Some("end_conversation") => true,
        Some(_) => {
            return Err(ApiError::not_one_of(
                "participant/on_hangup",
                &["continue_conversation", "end_conversation"],
            ));
        }
    };
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    if world
        .commanded_call(request)?
        .activity
        .conversation
        .is_some()
    {
        return Err(busy());
    }
    let Some(conversation) = world
        .conversations
        .get_mut(conversation_id)
        .filter(|c| matches!(c.kind, ConversationKind::Assistant))
    else {
        return Err(ApiError::invalid_value(
            "conversation_id",
            "No AI assistant conversation with this conversation_id is running.",
        ));
    };
    conversation.participants.push((id.to_owned(), ends));
    if let Some(call) = world.calls.get_mut(id) {
        call.activity.conversation = Some(conversation_id.to_owned());
    }
    world.set_client_state(id, client_state);
    Ok(Reply::data(
        json!({"result": "ok", "conversation_id": conversation_id}),
    ))
}

/// `POST /calls/{call_control_id}/actions/ai_assistant_add_messages`
pub fn ai_assistant_add_messages(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let added = messages(request, "messages")?;
    let id = running(world, request, "an AI assistant", |k| {
        matches!(k, ConversationKind::Assistant)
    })?;
    if let Some(conversation) = world.conversations.get_mut(&id) {
        for (role, content) in added {
            conversation.say(role, content);
        }
    }
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/conversation_relay_start`: the
/// WebSocket is `url`, else `conversation_relay_url`, else the `url` of
/// `conversation_relay_settings` (top-level aliases win, as on Telnyx).
pub fn conversation_relay_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let settings = object(request, "conversation_relay_settings")?;
    let nested = match settings.and_then(|s| s.get("url")) {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) => Some(("conversation_relay_settings/url", url.as_str())),
        Some(_) => {
            return Err(ApiError::wrong_type(
                "conversation_relay_settings/url",
                "a string",
            ));
        }
    };
    let url = match (request.str("url")?, request.str("conversation_relay_url")?) {
        (Some(url), _) => ("url", url),
        (None, Some(url)) => ("conversation_relay_url", url),
        (None, None) => nested.ok_or_else(|| ApiError::missing("url"))?,
    };
    if !(url.1.starts_with("ws://") || url.1.starts_with("wss://")) {
        return Err(ApiError::invalid_value(
            url.0,
            format_args!("The '{}' parameter must start with ws:// or wss://.", url.0),
        ));
    }
    request.str("greeting")?;
    voice_settings(request, VOICE_PROVIDERS)?;
    object(request, "assistant")?;
    let context = speech_models(request)?;
    let mut conversation = begin(world, request, ConversationKind::Relay, context)?;
    if let Some(greeting) = request.str("greeting")? {
        conversation.say("assistant", greeting);
    }
    let id = conversation.id.clone();
    world.conversations.insert(id.clone(), conversation);
    Ok(Reply::data(
        json!({"result": "ok", "conversation_relay_id": id}),
    ))
}

/// `POST /calls/{call_control_id}/actions/conversation_relay_stop`
pub fn conversation_relay_stop(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = running(world, request, "conversation relay", |k| {
        matches!(k, ConversationKind::Relay)
    })?;
    world.end_conversation(&id, "stopped");
    Ok(Reply::ok())
}

/// A required string member of an object field.
fn required_in<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    member: &str,
) -> Result<&'a str, ApiError> {
    match object.get(member) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(ApiError::missing(&format!("{field}/{member}")))
        }
        Some(_) => Err(ApiError::wrong_type(
            &format!("{field}/{member}"),
            "a string",
        )),
    }
}

/// The `role` of a message or participant, one of `allowed`.
fn role(
    object: &Map<String, Value>,
    field: &str,
    allowed: &[&'static str],
) -> Result<&'static str, ApiError> {
    let pointer = format!("{field}/role");
    let given = object.get("role").and_then(Value::as_str);
    let given = given.ok_or_else(|| ApiError::missing(&pointer))?;
    allowed
        .iter()
        .find(|a| **a == given)
        .copied()
        .ok_or_else(|| ApiError::not_one_of(&pointer, allowed))
}

/// `participants` of an assistant: each with an `id` and the role `user`.
fn participants(request: &Request) -> Result<(), ApiError> {
    for (index, item) in array(request, "participants")?.iter().enumerate() {
        let field = format!("participants/{index}");
        let item = item
            .as_object()
            .ok_or_else(|| ApiError::wrong_type(&field, "an object"))?;
        required_in(item, &field, "id")?;
        role(item, &field, &["user"])?;
    }
    Ok(())
}

/// Messages as the assistant takes them: a role, and the content (and tool
/// call id) that role requires.
pub fn messages(request: &Request, field: &str) -> Result<Vec<(&'static str, String)>, ApiError> {
    let roles = ["user", "assistant", "tool", "system", "developer"];
    let mut out = Vec::new();
    for (index, item) in array(request, field)?.iter().enumerate() {
        let pointer = format!("{field}/{index}");
        let item = item
            .as_object()
            .ok_or_else(|| ApiError::wrong_type(&pointer, "an object"))?;
        let role = role(item, &pointer, &roles)?;
        if role == "tool" {
            required_in(item, &pointer, "tool_call_id")?;
        }
        let content = match role {
            "assistant" => item
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            _ => required_in(item, &pointer, "content")?,
        };
        out.push((role, content.to_owned()));
    }
    Ok(out)
}
