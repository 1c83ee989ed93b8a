//! AI conversations on a call: an AI assistant (start, stop, join, add
//! messages), a conversation relay to the application's WebSocket, and what
//! every AI conversation shares with `gather_using_ai` (`ai_gather`): one
//! per call at a time, a history of messages, and `call.conversation.ended`
//! when it ends, with `reason` `completed` (an AI gather got its answers),
//! `stopped` (a stop command), `timeout` (the caller said nothing in time)
//! or `customer_disconnect` (the call ended). An assistant's end is
//! followed by `call.conversation_insights.generated`, whose one result
//! sums up what the caller said.
//!
//! The simulated assistant is no language model: it keeps what the caller
//! says (`/_sim/calls/{id}/speech`) and the messages added to it, and says
//! nothing back.

use serde_json::{Map, Value, json};

use super::activity::{Conversation, ConversationKind};
use super::clock::secs_between;
use super::error::ApiError;
use super::events::{CONVERSATION_ENDED, CONVERSATION_INSIGHTS_GENERATED, Context, With};
use super::ids;
use super::media::voice_settings;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// The voice and speech model Telnyx uses when a command names none.
pub const DEFAULT_VOICE: &str = "Telnyx.KokoroTTS.af";
pub const DEFAULT_STT: &str = "distil-whisper/distil-large-v2";

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
    voice_settings(request, "voice_settings")?;
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

/// `POST /calls/{call_control_id}/actions/conversation_relay_start`
pub fn conversation_relay_start(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let url = match (request.str("url")?, request.str("conversation_relay_url")?) {
        (Some(url), _) => ("url", url),
        (None, Some(url)) => ("conversation_relay_url", url),
        (None, None) => return Err(ApiError::missing("url")),
    };
    if !(url.1.starts_with("ws://") || url.1.starts_with("wss://")) {
        return Err(ApiError::invalid_value(
            url.0,
            format_args!("The '{}' parameter must start with ws:// or wss://.", url.0),
        ));
    }
    request.str("greeting")?;
    voice_settings(request, "voice_settings")?;
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

/// A new conversation on the (answered) call a request names, which must
/// take part in none; the caller inserts it.
pub fn begin(
    world: &mut World,
    request: &Request,
    kind: ConversationKind,
    context: Context,
) -> Result<Conversation, ApiError> {
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let now = world.now();
    let call = world.commanded_call(request)?;
    if call.activity.conversation.is_some() {
        return Err(busy());
    }
    let conversation_id = ids::uuid();
    call.activity.conversation = Some(conversation_id.clone());
    world.set_client_state(id, client_state);
    Ok(Conversation {
        id: conversation_id,
        kind,
        owner: id.to_owned(),
        participants: Vec::new(),
        started_at: now,
        history: Vec::new(),
        context,
    })
}

/// The conversation of `kind` the commanded call takes part in (422 otherwise).
fn running(
    world: &mut World,
    request: &Request,
    what: &str,
    kind: impl Fn(&ConversationKind) -> bool,
) -> Result<String, ApiError> {
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let conversation = world.commanded_call(request)?.activity.conversation.clone();
    let conversation = conversation
        .filter(|c| world.conversations.get(c).is_some_and(|c| kind(&c.kind)))
        .ok_or_else(|| {
            ApiError::invalid_value(
                "call_control_id",
                format_args!("The call has no {what} running."),
            )
        })?;
    world.set_client_state(id, client_state);
    Ok(conversation)
}

fn busy() -> ApiError {
    ApiError::invalid_value(
        "call_control_id",
        "Only one AI assistant, AI gather or conversation relay can run on a call at a time.",
    )
}

/// The speech models a conversation names, for `call.conversation.ended`.
pub fn speech_models(request: &Request) -> Result<Context, ApiError> {
    let voice = request.str("voice")?.unwrap_or(DEFAULT_VOICE);
    let stt = object(request, "transcription")?
        .and_then(|t| t.get("model"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_STT);
    let provider = voice.split('.').next().unwrap_or(voice).to_lowercase();
    Ok(Context::new()
        .with("stt_model", stt)
        .with("tts_provider", provider)
        .with("tts_voice_id", voice))
}

/// An optional object field.
pub fn object<'a>(
    request: &'a Request,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match request.body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(ApiError::wrong_type(field, "an object")),
    }
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

/// An optional array field, empty when absent.
pub fn array<'a>(request: &'a Request, field: &str) -> Result<&'a [Value], ApiError> {
    match request.body.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ApiError::wrong_type(field, "an array")),
    }
}

impl World {
    /// The far end said `text`: the conversation of the call hears it.
    pub fn converse(&mut self, id: &str, text: &str) {
        let Some(conversation_id) = self
            .calls
            .get(id)
            .and_then(|c| c.activity.conversation.clone())
        else {
            return;
        };
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            return;
        };
        conversation.say("user", text);
        if matches!(conversation.kind, ConversationKind::Gather(_)) {
            self.ai_gather_heard(&conversation_id);
        }
    }

    /// Ends a conversation: `call.conversation.ended` on the call that
    /// started it (and the insights of an assistant).
    pub fn end_conversation(&mut self, conversation_id: &str, reason: &str) {
        let Some(conversation) = self.conversations.remove(conversation_id) else {
            return;
        };
        let now = self.now();
        let owner = conversation.owner.as_str();
        let members = conversation.participants.iter().map(|(c, _)| c.as_str());
        for call in std::iter::once(owner).chain(members) {
            if let Some(call) = self.calls.get_mut(call) {
                call.activity.conversation = None;
            }
        }
        let Some(call) = self.calls.get(owner) else {
            return;
        };
        let party = call.calling_party_type();
        let mut context = call
            .context()
            .with("calling_party_type", party)
            .with("conversation_id", conversation.id.as_str())
            .with("duration_sec", secs_between(conversation.started_at, now))
            .with("reason", reason);
        context.extend(conversation.context.clone());
        self.emit(&CONVERSATION_ENDED, &context);
        if matches!(conversation.kind, ConversationKind::Assistant) {
            let said: Vec<&str> = conversation
                .history
                .iter()
                .filter(|(role, _)| *role == "user")
                .map(|(_, content)| content.as_str())
                .collect();
            let summary = match said.as_slice() {
                [] => "The caller said nothing.".to_owned(),
                said => format!("The caller said: {}", said.join(" ")),
            };
            let context = self
                .call_context(owner)
                .with("calling_party_type", party)
                .with("insight_group_id", ids::uuid())
                .with(
                    "results",
                    json!([{"insight_id": ids::uuid(), "result": summary}]),
                );
            self.emit(&CONVERSATION_INSIGHTS_GENERATED, &context);
        }
    }

    /// A call in a conversation ended: the conversation ends with it when
    /// the call started it (or joined it asking to end it on hangup).
    pub fn leave_conversation(&mut self, id: &str, reason: &str) {
        let Some(conversation_id) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.activity.conversation.take())
        else {
            return;
        };
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            return;
        };
        let ends = conversation.owner == id
            || conversation
                .participants
                .iter()
                .any(|(call, ends)| call == id && *ends);
        conversation.participants.retain(|(call, _)| call != id);
        if ends {
            self.end_conversation(&conversation_id, reason);
        }
    }
}
