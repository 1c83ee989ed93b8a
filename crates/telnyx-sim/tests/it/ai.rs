//! AI on a call: gather_using_ai understanding what the caller says, an AI
//! assistant (start, messages, a second call joining, stop), a conversation
//! relay, and the conversation ending with its call.

use reqwest::Method;
use serde_json::json;

use testkit::sim::{Sandbox, payload, types};

#[tokio::test]
async fn an_ai_gather_asks_until_it_knows_every_parameter() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    let started = sb
        .api
        .post(
            &format!("/calls/{id}/actions/gather_using_ai"),
            json!({
                "parameters": {
                    "type": "object",
                    "properties": {"age": {"type": "integer"}, "city": {"type": "string"}},
                    "required": ["age", "city"],
                },
                "greeting": "Hello, can you tell me your age and where you live?",
                "send_partial_results": true,
                "send_message_history_updates": true,
                "gather_ended_speech": "Thank you.",
                "client_state": "YWk=",
            }),
        )
        .await;
    let conversation = started["data"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.caller.say(&id, "I'm 29").await;
    sb.caller.say(&id, "My city is Paris.").await;
    sb.wait_for("call.conversation.ended", &id).await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        [
            "call.ai_gather.partial_results",
            "call.ai_gather.message_history_updated",
            "call.ai_gather.partial_results",
            "call.ai_gather.message_history_updated",
            "call.ai_gather.ended",
            "call.conversation.ended",
        ]
    );
    assert_eq!(payload(&events[2])["partial_results"], json!({"age": 29}));
    let ended = payload(&events[6]);
    assert_eq!(ended["status"], "valid");
    assert_eq!(ended["result"], json!({"age": 29, "city": "Paris"}));
    assert_eq!(ended["client_state"], "YWk=");
    assert_eq!(
        ended["message_history"],
        json!([
            {"role": "assistant", "content": "Hello, can you tell me your age and where you live?"},
            {"role": "user", "content": "I'm 29"},
            {"role": "assistant", "content": "Please tell me your city."},
            {"role": "user", "content": "My city is Paris."},
            {"role": "assistant", "content": "Thank you."},
        ])
    );
    let over = payload(&events[7]);
    assert_eq!(over["conversation_id"], conversation.as_str());
    assert_eq!(over["reason"], "completed");
    assert_eq!(over["llm_model"], "Qwen/Qwen3-235B-A22B");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_silent_caller_leaves_the_ai_gather_invalid() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    sb.api
        .post(
            &format!("/calls/{id}/actions/gather_using_ai"),
            json!({"parameters": {"properties": {"name": {"type": "string"}}}, "user_response_timeout_ms": 100}),
        )
        .await;
    sb.wait_for("call.conversation.ended", &id).await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        ["call.ai_gather.ended", "call.conversation.ended"]
    );
    assert_eq!(payload(&events[2])["status"], "invalid");
    assert_eq!(payload(&events[2])["result"], json!({}));
    assert_eq!(payload(&events[3])["reason"], "timeout");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn an_assistant_hears_the_caller_and_sums_up_when_stopped() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    let supervisor = sb.answered_call().await;
    let started = sb
        .api
        .post(
            &format!("/calls/{id}/actions/ai_assistant_start"),
            json!({
                "assistant": {"id": "assistant-2a8e", "model": "openai/gpt-4o"},
                "greeting": "How can I help?",
                "voice": "Telnyx.KokoroTTS.af",
            }),
        )
        .await;
    let conversation = started["data"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.api
        .post(
            &format!("/calls/{id}/actions/ai_assistant_add_messages"),
            json!({"messages": [{"role": "system", "content": "The caller is a premium customer."}]}),
        )
        .await;
    let joined = sb
        .api
        .post(
            &format!("/calls/{supervisor}/actions/ai_assistant_join"),
            json!({"conversation_id": conversation, "participant": {"id": "supervisor", "role": "user"}}),
        )
        .await;
    assert_eq!(joined["data"]["conversation_id"], conversation.as_str());
    sb.caller.say(&id, "My order never arrived.").await;
    sb.api
        .post(&format!("/calls/{id}/actions/ai_assistant_stop"), json!({}))
        .await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        [
            "call.conversation.ended",
            "call.conversation_insights.generated"
        ]
    );
    let ended = payload(&events[2]);
    assert_eq!(
        (
            ended["assistant_id"].as_str(),
            ended["reason"].as_str(),
            ended["llm_model"].as_str()
        ),
        (
            Some("assistant-2a8e"),
            Some("stopped"),
            Some("openai/gpt-4o")
        )
    );
    assert_eq!(
        (
            ended["tts_provider"].as_str(),
            ended["calling_party_type"].as_str()
        ),
        (Some("telnyx"), Some("pstn"))
    );
    let insights = payload(&events[3]);
    assert_eq!(
        insights["results"][0]["result"],
        "The caller said: My order never arrived."
    );
    // The conversation is over for the call that joined it too.
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("/calls/{supervisor}/actions/ai_assistant_stop"),
            json!({}),
        )
        .await;
    assert_eq!(error["code"], "10015");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_conversation_relay_ends_with_the_call() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    let started = sb
        .api
        .post(
            &format!("/calls/{id}/actions/conversation_relay_start"),
            json!({"conversation_relay_settings": {"url": "wss://relay.example.com/ws"}, "greeting": "Hi!"}),
        )
        .await;
    let relay = started["data"]["conversation_relay_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.caller.hang_up(&id).await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        ["call.hangup", "call.conversation.ended"]
    );
    assert_eq!(payload(&events[3])["conversation_id"], relay.as_str());
    assert_eq!(payload(&events[3])["reason"], "customer_disconnect");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn ai_commands_are_validated_as_telnyx_does() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let actions = format!("/calls/{id}/actions");
    let cases = [
        ("gather_using_ai", json!({}), "10004", "/parameters"),
        (
            "gather_using_ai",
            json!({"parameters": {"properties": []}}),
            "10015",
            "/parameters/properties",
        ),
        (
            "gather_using_ai",
            json!({"parameters": {}, "message_history": [{"role": "system", "content": "x"}]}),
            "10032",
            "/message_history/0/role",
        ),
        (
            "ai_assistant_start",
            json!({"assistant": {"name": "no id"}}),
            "10004",
            "/assistant/id",
        ),
        (
            "ai_assistant_start",
            json!({"participants": [{"id": "p1"}]}),
            "10004",
            "/participants/0/role",
        ),
        (
            "ai_assistant_join",
            json!({"participant": {"id": "p1", "role": "user"}}),
            "10004",
            "/conversation_id",
        ),
        (
            "ai_assistant_join",
            json!({"conversation_id": "c1", "participant": {"id": "p1", "role": "user"}}),
            "10015",
            "/conversation_id",
        ),
        (
            "ai_assistant_add_messages",
            json!({"messages": [{"role": "tool", "content": "42"}]}),
            "10004",
            "/messages/0/tool_call_id",
        ),
        (
            "ai_assistant_add_messages",
            json!({"messages": [{"role": "user", "content": "hi"}]}),
            "10015",
            "/call_control_id",
        ),
        ("ai_assistant_stop", json!({}), "10015", "/call_control_id"),
        (
            "gather_using_ai",
            json!({"parameters": {}, "voice_settings": {"type": "minimax"}}),
            "10032",
            "/voice_settings/type",
        ),
        (
            "ai_assistant_start",
            json!({"voice_settings": {"type": "inworld"}}),
            "10032",
            "/voice_settings/type",
        ),
        ("conversation_relay_start", json!({}), "10004", "/url"),
        (
            "conversation_relay_start",
            json!({"conversation_relay_settings": {"url": "http://example.com"}}),
            "10015",
            "/conversation_relay_settings/url",
        ),
        (
            "conversation_relay_start",
            json!({"conversation_relay_url": "https://example.com"}),
            "10015",
            "/conversation_relay_url",
        ),
        (
            "conversation_relay_stop",
            json!({}),
            "10015",
            "/call_control_id",
        ),
    ];
    for (action, body, code, pointer) in cases {
        let (status, error) = sb
            .api
            .fails(Method::POST, &format!("{actions}/{action}"), body.clone())
            .await;
        assert_eq!(
            (
                status,
                error["code"].as_str(),
                error["source"]["pointer"].as_str()
            ),
            (422, Some(code), Some(pointer)),
            "{action} {body}: {error}"
        );
    }
    sb.api
        .post(
            &format!("{actions}/ai_assistant_start"),
            json!({"assistant": {"id": "a1"}}),
        )
        .await;
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("{actions}/conversation_relay_start"),
            json!({"url": "wss://relay.example.com"}),
        )
        .await;
    assert!(
        error["detail"].as_str().unwrap().contains("Only one"),
        "{error}"
    );
    sb.hooks.assert_all_valid();
}
