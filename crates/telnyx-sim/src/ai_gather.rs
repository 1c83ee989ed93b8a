//! `gather_using_ai`: an assistant asks the caller for the `parameters` (a
//! JSON Schema object) and reports what it understood.
//!
//! The simulated assistant reads each utterance of the caller
//! (`/_sim/calls/{id}/speech`) with fixed rules, so a test knows what it
//! will understand:
//!
//! - a property is `<name> is <value>` or `<name>: <value>` (the name's
//!   underscores may be spaces; the value runs to the next `,`, `.`, `;` or
//!   ` and `);
//! - otherwise an `integer` or `number` property takes the first number said,
//!   a `boolean` one `yes`/`no`/`true`/`false`, one with an `enum` the first
//!   of its values said;
//! - otherwise, when a single string property is still missing, it takes
//!   the whole utterance.
//!
//! Once every `required` property (every property, when none is required) is
//! known, `call.ai_gather.ended` says `valid` with the `result`, followed by
//! `call.conversation.ended` (`completed`). Until then it asks again; when
//! the caller stays silent for `user_response_timeout_ms` (or the call ends)
//! it ends `invalid` with what it has. With `send_partial_results` each
//! utterance sends `call.ai_gather.partial_results`; with
//! `send_message_history_updates`, `call.ai_gather.message_history_updated`.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::activity::ConversationKind;
use super::conversation::{array, begin, object, speech_models};
use super::error::ApiError;
use super::events::{
    AI_GATHER_ENDED, AI_GATHER_MESSAGE_HISTORY_UPDATED, AI_GATHER_PARTIAL_RESULTS, With,
};
use super::media::{AI_VOICE_PROVIDERS, voice_settings};
use super::reply::Reply;
use super::request::Request;
use super::state::World;

const DEFAULT_MODEL: &str = "Qwen/Qwen3-235B-A22B";

/// The state of one AI gather.
#[derive(Debug, Clone)]
pub struct AiGather {
    pub properties: Map<String, Value>,
    pub required: Vec<String>,
    pub result: Map<String, Value>,
    pub send_partial_results: bool,
    pub send_message_history_updates: bool,
    pub response_timeout: Duration,
    pub gather_ended_speech: Option<String>,
    /// Changes with every utterance, so a stale timeout knows it is stale.
    pub generation: u64,
}

/// `POST /calls/{call_control_id}/actions/gather_using_ai`
pub fn gather_using_ai(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let parameters =
        object(request, "parameters")?.ok_or_else(|| ApiError::missing("parameters"))?;
    let properties = match parameters.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(properties)) => properties.clone(),
        Some(_) => return Err(ApiError::wrong_type("parameters/properties", "an object")),
    };
    let required: Vec<String> = match parameters.get("required") {
        None | Some(Value::Null) => properties.keys().cloned().collect(),
        Some(Value::Array(names)) => names
            .iter()
            .map(|n| n.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| ApiError::wrong_type("parameters/required", "an array of strings"))?,
        Some(_) => return Err(ApiError::wrong_type("parameters/required", "an array")),
    };
    let mut history = Vec::new();
    for (index, item) in array(request, "message_history")?.iter().enumerate() {
        let pointer = format!("message_history/{index}");
        let role = match item.get("role").and_then(Value::as_str) {
            Some("assistant") => "assistant",
            Some("user") => "user",
            _ => {
                return Err(ApiError::not_one_of(
                    &format!("{pointer}/role"),
                    &["assistant", "user"],
                ));
            }
        };
        let content = item
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        history.push((role, content.to_owned()));
    }
    let speech = request.str("gather_ended_speech")?;
    if speech.is_some_and(|s| s.chars().count() > 3_000) {
        return Err(ApiError::invalid_value(
            "gather_ended_speech",
            "The 'gather_ended_speech' parameter is at most 3000 characters long.",
        ));
    }
    let greeting = request.str("greeting")?;
    let partial = request.bool("send_partial_results")?.unwrap_or(false);
    let updates = request
        .bool("send_message_history_updates")?
        .unwrap_or(false);
    let timeout = request.int("user_response_timeout_ms", 1..=i64::from(i32::MAX))?;
    object(request, "interruption_settings")?;
    voice_settings(request, AI_VOICE_PROVIDERS)?;
    let assistant = object(request, "assistant")?;
    let model = assistant
        .and_then(|a| a.get("model"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_MODEL);
    let context = speech_models(request)?.with("llm_model", model);
    let gather = AiGather {
        properties,
        required,
        result: Map::new(),
        send_partial_results: partial,
        send_message_history_updates: updates,
        response_timeout: Duration::from_millis(timeout.unwrap_or(10_000) as u64),
        gather_ended_speech: speech.map(str::to_owned),
        generation: world.next_seq(),
    };
    let question = greeting.map_or_else(|| gather.question(), str::to_owned);
    let mut conversation = begin(
        world,
        request,
        ConversationKind::Gather(Box::new(gather)),
        context,
    )?;
    for (role, content) in history {
        conversation.say(role, content);
    }
    conversation.say("assistant", question);
    let id = conversation.id.clone();
    world.conversations.insert(id.clone(), conversation);
    world.ai_gather_waits(&id);
    Ok(Reply::data(json!({"result": "ok", "conversation_id": id})))
}

impl AiGather {
    /// The required properties not known yet.
    fn missing(&self) -> Vec<&str> {
        self.required
            .iter()
            .filter(|name| !self.result.contains_key(*name))
            .map(String::as_str)
            .collect()
    }

    /// What the assistant asks for.
    fn question(&self) -> String {
        let missing = self.missing();
        if missing.is_empty() {
            return "How can I help you?".to_owned();
        }
        let names: Vec<String> = missing.iter().map(|n| n.replace('_', " ")).collect();
        format!("Please tell me your {}.", names.join(", "))
    }

    /// Reads one utterance into the result.
    fn understand(&mut self, text: &str) {
        let lower = text.to_lowercase();
        let mut numbers = lower
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter_map(|w| w.trim_matches('.').parse::<f64>().ok());
        let mut heard_any = false;
        for (name, schema) in &self.properties {
            if self.result.contains_key(name) {
                continue;
            }
            let kind = schema
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("string");
            let value = stated(&lower, text, name)
                .map(|v| typed(kind, &v).unwrap_or(Value::String(v)))
                .or_else(|| match kind {
                    "integer" => numbers
                        .next()
                        .filter(|n| n.fract() == 0.0)
                        .map(|n| json!(n as i64)),
                    "number" => numbers.next().map(|n| json!(n)),
                    "boolean" => typed("boolean", &lower),
                    _ => schema
                        .get("enum")
                        .and_then(Value::as_array)
                        .and_then(|values| {
                            values.iter().find(|v| {
                                v.as_str()
                                    .is_some_and(|v| lower.contains(&v.to_lowercase()))
                            })
                        })
                        .cloned(),
                });
            if let Some(value) = value {
                self.result.insert(name.clone(), value);
                heard_any = true;
            }
        }
        let strings: Vec<&String> = self
            .properties
            .iter()
            .filter(|(name, schema)| {
                !self.result.contains_key(*name)
                    && schema
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("string")
                        == "string"
                    && schema.get("enum").is_none()
            })
            .map(|(name, _)| name)
            .collect();
        if let [only] = strings.as_slice()
            && !heard_any
        {
            let name = (*only).clone();
            self.result
                .insert(name, Value::String(text.trim().to_owned()));
        }
    }
}

/// `<name> is <value>` or `<name>: <value>`, read from `lower` and taken
/// (with its case) from `text`.
fn stated(lower: &str, text: &str, name: &str) -> Option<String> {
    let spoken = name.replace('_', " ").to_lowercase();
    for key in [name.to_lowercase(), spoken] {
        for joiner in [" is ", ": ", " = "] {
            let needle = format!("{key}{joiner}");
            if let Some(at) = lower.find(&needle) {
                let start = at + needle.len();
                let rest = text.get(start..)?;
                let lower_rest = lower.get(start..)?;
                let end = [",", ".", ";", " and "]
                    .iter()
                    .filter_map(|stop| lower_rest.find(stop))
                    .min()
                    .unwrap_or(rest.len());
                let value = rest.get(..end)?.trim();
                if !value.is_empty() {
                    return Some(value.to_owned());
                }
            }
        }
    }
    None
}

/// `value` read as the JSON type `kind`, when it reads as one.
fn typed(kind: &str, value: &str) -> Option<Value> {
    match kind {
        "integer" => value.trim().parse::<i64>().ok().map(Value::from),
        "number" => value.trim().parse::<f64>().ok().map(|n| json!(n)),
        "boolean" => {
            let words: Vec<&str> = value
                .split(|c: char| !c.is_alphanumeric())
                .map(str::trim)
                .collect();
            if words.iter().any(|w| matches!(*w, "yes" | "true")) {
                Some(Value::Bool(true))
            } else if words.iter().any(|w| matches!(*w, "no" | "false")) {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        _ => None,
    }
}

impl World {
    fn ai_gather(&mut self, conversation_id: &str) -> Option<&mut AiGather> {
        match &mut self.conversations.get_mut(conversation_id)?.kind {
            ConversationKind::Gather(gather) => Some(gather),
            _ => None,
        }
    }

    /// Waits for the caller; silence until the timeout ends the gather.
    fn ai_gather_waits(&mut self, conversation_id: &str) {
        let generation = self.next_seq();
        let Some(gather) = self.ai_gather(conversation_id) else {
            return;
        };
        gather.generation = generation;
        let after = gather.response_timeout;
        let id = conversation_id.to_owned();
        self.later(after, move |world| {
            if world
                .ai_gather(&id)
                .is_some_and(|g| g.generation == generation)
            {
                world.finish_ai_gather(&id, "invalid", "timeout");
            }
        });
    }

    /// The caller said something (already in the history).
    pub fn ai_gather_heard(&mut self, conversation_id: &str) {
        let Some(conversation) = self.conversations.get_mut(conversation_id) else {
            return;
        };
        let said = conversation
            .history
            .last()
            .map(|(_, content)| content.clone())
            .unwrap_or_default();
        let ConversationKind::Gather(gather) = &mut conversation.kind else {
            return;
        };
        gather.understand(&said);
        let (partial, updates) = (
            gather.send_partial_results,
            gather.send_message_history_updates,
        );
        let partial_results = Value::Object(gather.result.clone());
        let done = gather.missing().is_empty();
        let reply = if done {
            gather.gather_ended_speech.clone()
        } else {
            Some(gather.question())
        };
        if let Some(reply) = reply {
            conversation.say("assistant", reply);
        }
        let owner = conversation.owner.clone();
        let history = history_json(&conversation.history);
        if partial {
            let context = self
                .call_context(&owner)
                .with("message_history", history.clone())
                .with("partial_results", partial_results);
            self.emit(&AI_GATHER_PARTIAL_RESULTS, &context);
        }
        if updates {
            let context = self.call_context(&owner).with("message_history", history);
            self.emit(&AI_GATHER_MESSAGE_HISTORY_UPDATED, &context);
        }
        if done {
            self.finish_ai_gather(conversation_id, "valid", "completed");
        } else {
            self.ai_gather_waits(conversation_id);
        }
    }

    /// Sends `call.ai_gather.ended` with `status` and ends the conversation.
    fn finish_ai_gather(&mut self, conversation_id: &str, status: &str, reason: &str) {
        let Some(conversation) = self.conversations.get(conversation_id) else {
            return;
        };
        let ConversationKind::Gather(gather) = &conversation.kind else {
            return;
        };
        let context = self
            .call_context(&conversation.owner)
            .with("message_history", history_json(&conversation.history))
            .with("result", Value::Object(gather.result.clone()))
            .with("status", status);
        self.emit(&AI_GATHER_ENDED, &context);
        if reason != "customer_disconnect" {
            self.end_conversation(conversation_id, reason);
        }
    }

    /// The call is ending during an AI gather: it ends `invalid` before
    /// `call.hangup`; the conversation ends after it.
    pub fn end_ai_gather_on_hangup(&mut self, id: &str) {
        let Some(conversation_id) = self
            .calls
            .get(id)
            .and_then(|c| c.activity.conversation.clone())
        else {
            return;
        };
        if self
            .conversations
            .get(&conversation_id)
            .is_some_and(|c| c.owner == id && matches!(c.kind, ConversationKind::Gather(_)))
        {
            self.finish_ai_gather(&conversation_id, "invalid", "customer_disconnect");
        }
    }
}

/// The history as AI gather events carry it: assistant and user turns.
fn history_json(history: &[(&'static str, String)]) -> Value {
    history
        .iter()
        .filter(|(role, _)| matches!(*role, "assistant" | "user"))
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(parameters: Value) -> AiGather {
        let properties = parameters["properties"].as_object().unwrap().clone();
        AiGather {
            required: properties.keys().cloned().collect(),
            properties,
            result: Map::new(),
            send_partial_results: false,
            send_message_history_updates: false,
            response_timeout: Duration::from_secs(1),
            gather_ended_speech: None,
            generation: 0,
        }
    }

    #[test]
    fn understands_stated_values_numbers_and_enums() {
        let mut g = gather(json!({"properties": {
            "age": {"type": "integer"},
            "city": {"type": "string"},
            "plan": {"type": "string", "enum": ["basic", "premium"]},
        }}));
        g.understand("Hello, I'm 29 and my city is Paris. I'd like Premium");
        assert_eq!(
            Value::Object(g.result.clone()),
            json!({"age": 29, "city": "Paris", "plan": "premium"})
        );
        assert!(g.missing().is_empty());
    }

    #[test]
    fn a_single_missing_string_takes_the_utterance() {
        let mut g = gather(
            json!({"properties": {"reason": {"type": "string"}, "urgent": {"type": "boolean"}}}),
        );
        g.understand("My internet is down");
        assert_eq!(g.result["reason"], "My internet is down");
        assert_eq!(g.question(), "Please tell me your urgent.");
        g.understand("yes");
        assert_eq!(g.result["urgent"], true);
    }
}
