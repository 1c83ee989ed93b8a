//! What every AI conversation on a call shares (an AI assistant, an AI
//! gather, a conversation relay): one per call at a time, a history of
//! messages, and `call.conversation.ended` when it ends, with `reason`
//! `completed` (an AI gather got its answers), `stopped` (a stop command),
//! `timeout` (the caller said nothing in time) or `customer_disconnect` (the
//! call ended). An assistant's end is followed by
//! `call.conversation_insights.generated`, whose one result sums up what
//! the caller said.

use serde_json::{Map, Value, json};

use super::activity::{Conversation, ConversationKind};
use super::clock::secs_between;
use super::error::ApiError;
use super::events::{CONVERSATION_ENDED, CONVERSATION_INSIGHTS_GENERATED, Context, With};
use super::ids;
use super::request::Request;
use super::state::World;

/// The voice and speech model Telnyx uses when a command names none.
pub const DEFAULT_VOICE: &str = "Telnyx.KokoroTTS.af";
pub const DEFAULT_STT: &str = "distil-whisper/distil-large-v2";

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
pub fn running(
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

pub fn busy() -> ApiError {
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
