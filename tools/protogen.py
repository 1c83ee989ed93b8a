#!/usr/bin/env python3
"""Generate conference-gateway's gRPC API (proto3) from Telnyx's OpenAPI spec.

The gateway exposes the 83 operations of Telnyx's Voice API (conferences,
queues, calls and their commands, call control applications, webhook deliveries)
as RPCs of four gRPC services. This script reads the OpenAPI 3.1 document that
describes exactly those operations (`openapi-subset.yaml`) and writes, into
`proto/conference_gateway/v1/`:

  conference_service.proto  ConferenceService and its request/response messages
  queue_service.proto       QueueService and its request/response messages
  call_service.proto        CallService and its request/response messages
  event_service.proto       EventService: the hand-written Subscribe stream and
                            its request (kept verbatim in HAND_WRITTEN), then
                            the webhook-delivery RPCs and their messages
  resources.proto           every message and enum that comes from
                            `#/components/schemas/*` (resources, shared request
                            components, unions, top-level enums)
  events.proto              the `Event` delivered by EventService.Subscribe and
                            one typed payload message per webhook event type,
                            from the spec's `webhooks`

`options.proto` (the custom options the gateway's codec reads) is hand-written
and is not touched.

Usage, from the repository root:

    python3 tools/protogen.py                 # regenerate the six files
    python3 tools/protogen.py --check         # exit 1 if the files are stale
    python3 tools/protogen.py --spec PATH     # use another copy of the spec

The spec is looked up in `--spec`, then `$TELNYX_OPENAPI_SPEC`, then the copy
vendored in `spec/telnyx-openapi.yaml` (the same file the conformance
tests check every request against). The output is
deterministic: the same spec always gives byte-identical files. Do not edit the
generated files by hand; change the tables below instead (RPC names, renames,
union names, filter properties...) and rerun. Afterwards run `buf lint` and
`buf build` in `proto/`.

How the spec is mapped (the gateway's codec relies on these conventions):

* One RPC per operation, `option (operation) = {method path data_field}`. Path
  parameters use proto field names (`{conference_id}`, `{application_id}`).
* Request and response messages are `<Rpc>Request` and `<Rpc>Response`, or
  `<Service><Rpc>Request` when an earlier service has an RPC of that name
  (`CallServiceSpeakRequest` beside ConferenceService's `SpeakRequest`).
* The request carries path parameters first, then (lists)
  `page_size`/`page_token`, then query parameters, then every body property
  under its Telnyx JSON name. `filter` (deepObject) becomes a nested `Filter`.
* The response is a resource wrapper (`data_field` names the field),
  a page (`repeated` items, `next_page_token`, `total_size`), a command result
  inlined (`result`, `recording_id`), or empty for 204 No Content.
* Strings stay `string`; booleans and numbers are `optional`; `date-time`
  strings (and RFC 3339 timestamps of returned resources) are
  `google.protobuf.Timestamp`; free-form objects are `google.protobuf.Struct`.
* Closed string enums become proto enums (`<PREFIX>_UNSPECIFIED = 0` means not
  sent / not reported) with `(wire_value)` when the Telnyx string is not the
  lower-cased value name. Single-value discriminators (`type`,
  `transcription_engine`, `transcription_model` of union variants) become
  `(message).constants` instead of fields.
* `oneOf` unions become messages with `(message).untagged_union` and one oneof;
  an operation that accepts only some variants of a union shares its message
  and names the members it takes (see below). A `oneOf` of a single
  alternative is that alternative. A union of a free-form object and scalars
  is a `google.protobuf.Value`; a list of lists is `repeated
  google.protobuf.ListValue`; `enum: [true, false]` is a plain bool.
* The gateway validates what Telnyx would refuse, from options: an operation
  that accepts only some variants of a union lists them in `(field).members`;
  a body that requires one of several properties (`anyOf` of `required`
  lists) names them in `(message).require_any_of`. Both are in the comments too.
* An object that takes other keys beside its properties (`additionalProperties:
  true`) gets a last field `google.protobuf.Struct additional_properties` with
  `(field).additional_properties`: its keys are written into the object itself.

* Each webhook event type in `EVENTS` becomes `<Event>Payload`, the typed
  `data.payload`, with `option (message) = {event_type: "..."}`: the gateway
  builds its event-type lookup from that option, so adding an event is a row in
  `EVENTS` and a rerun.

The generator asserts, among other things, that every operation of the spec has
exactly one RPC, that every request-body and query property of every operation
is present in the corresponding request message, that `EVENTS` types exactly
the spec's `webhooks`, and that the events and payload fields listed in Telnyx's
reference pages (vendored in `spec/telnyx-docs/`, which describe 28 of them) are
events of `EVENTS` and a subset of the fields generated from the spec.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "proto" / "conference_gateway" / "v1"
DEFAULT_SPEC = REPO / "spec" / "telnyx-openapi.yaml"
DEFAULT_DOCS = REPO / "spec" / "telnyx-docs"
DOC_PAGES = ["conferencing-and-queues.md", "call-control.md"]
PACKAGE = "conference_gateway.v1"
# Where other languages put the generated code. The same in every file of the
# package (buf's PACKAGE_SAME_* rules), hand-written ones included.
FILE_OPTIONS = [
    ("csharp_namespace", '"ConferenceGateway.V1"'),
    ("go_package", '"conference-gateway/gen/go/conference_gateway/v1;conferencegatewayv1"'),
    ("java_multiple_files", "true"),
    ("java_package", '"com.conferencegateway.v1"'),
]
IMPORT_PREFIX = "conference_gateway/v1/"
WIDTH = 100

# --------------------------------------------------------------------------------------
# Tables: the hand-tuned part of the mapping.
# --------------------------------------------------------------------------------------

SERVICES = {
    "ConferenceService": (
        "conference_service.proto",
        "Conferences and their participants on Telnyx Call Control: create, list and inspect "
        "conferences, join and remove call legs, and command the audio (hold, mute, play, speak, "
        "record, DTMF) of all or some participants.",
    ),
    "QueueService": (
        "queue_service.proto",
        "Telnyx call queues: manage queues, inspect and update the calls waiting in them, and put "
        "calls into or take them out of a queue.",
    ),
    "CallService": (
        "call_service.proto",
        "Telnyx Call Control calls and applications: dial, answer, reject, hang up, bridge, "
        "transfer and refer calls, read a call's status, command its media (speak, play, gather "
        "DTMF or speech, record, fork, stream, transcribe, SIPREC, noise suppression), run AI "
        "assistants and Conversation Relay on it, list active calls and call events, and manage "
        "Call Control applications.",
    ),
    "EventService": (
        "event_service.proto",
        "The live stream of Telnyx webhook events about conferences, queues and calls.\n\n"
        "Telnyx posts its webhooks to the gateway, which verifies, deduplicates and orders them; "
        "any number of internal services then watch them here, each with its own filters, "
        "without ever seeing Telnyx's signatures or retries. Telnyx's own record of its "
        "deliveries (what it sent where, and what failed) is here too.",
    ),
}

# Hand-written parts of a generated service file, kept verbatim: the RPCs that are not
# Telnyx operations (they precede the generated ones), the messages they use (they precede
# the generated messages) and the files those need.
HAND_WRITTEN = {
    "EventService": {
        "rpcs": """\
  // Streams the events accepted from now on (or, with `resume_after`, those
  // accepted after an earlier event, then the live ones), in acceptance order,
  // each once. The stream ends with:
  //
  // - INVALID_ARGUMENT for a malformed filter;
  // - OUT_OF_RANGE at once when `resume_after` can no longer be served (older
  //   than the gateway's history, from before a restart, or not a cursor):
  //   subscribe again without it, and reconcile with the REST API if needed;
  // - RESOURCE_EXHAUSTED when the subscriber reads too slowly and its queue
  //   overflowed; the message (and the `cursor` key of its ErrorInfo) carries
  //   the cursor of the last event sent, to resume from;
  // - UNAVAILABLE when the gateway shuts down, with the same cursor.
  //
  // buf:lint:ignore RPC_RESPONSE_STANDARD_NAME
  rpc Subscribe(SubscribeRequest) returns (stream Event);""",
        "messages": """\
// Which events to stream, and from where. All given filters must match.
message SubscribeRequest {
  // Event types to receive, dotted as Telnyx names them
  // (`conference.participant.joined`). A trailing `.*` matches every type
  // with that prefix (`conference.*`, `call.machine.*`). Empty: every type.
  repeated string event_types = 1;

  // Only events whose `payload.conference_id` is this. Empty: any.
  string conference_id = 2;

  // Only events whose `payload.call_control_id` is this. Empty: any.
  string call_control_id = 3;

  // Only events whose `payload.queue` (the queue name of `call.enqueued` and
  // `call.dequeued`) is this. Empty: any.
  string queue_name = 4;

  // The `cursor` of an event received earlier: the stream starts with the
  // events accepted after it that are still in the gateway's history, then
  // continues live, with no gap and no repeat. Empty: live from now.
  string resume_after = 5;
}""",
        "imports": {IMPORT_PREFIX + "events.proto"},
    },
}

# (service, rpc, method, Telnyx path). The order is the order of the RPCs in the files.
RPCS = [
    ("ConferenceService", "ListConferences", "GET", "/conferences"),
    ("ConferenceService", "CreateConference", "POST", "/conferences"),
    ("ConferenceService", "GetConference", "GET", "/conferences/{id}"),
    ("ConferenceService", "EndConference", "POST", "/conferences/{id}/actions/end"),
    ("ConferenceService", "JoinConference", "POST", "/conferences/{id}/actions/join"),
    ("ConferenceService", "LeaveConference", "POST", "/conferences/{id}/actions/leave"),
    ("ConferenceService", "HoldParticipants", "POST", "/conferences/{id}/actions/hold"),
    ("ConferenceService", "UnholdParticipants", "POST", "/conferences/{id}/actions/unhold"),
    ("ConferenceService", "MuteParticipants", "POST", "/conferences/{id}/actions/mute"),
    ("ConferenceService", "UnmuteParticipants", "POST", "/conferences/{id}/actions/unmute"),
    ("ConferenceService", "PlayAudio", "POST", "/conferences/{id}/actions/play"),
    ("ConferenceService", "StopAudio", "POST", "/conferences/{id}/actions/stop"),
    ("ConferenceService", "Speak", "POST", "/conferences/{id}/actions/speak"),
    ("ConferenceService", "StartRecording", "POST", "/conferences/{id}/actions/record_start"),
    ("ConferenceService", "StopRecording", "POST", "/conferences/{id}/actions/record_stop"),
    ("ConferenceService", "PauseRecording", "POST", "/conferences/{id}/actions/record_pause"),
    ("ConferenceService", "ResumeRecording", "POST", "/conferences/{id}/actions/record_resume"),
    ("ConferenceService", "SendDtmf", "POST", "/conferences/{id}/actions/send_dtmf"),
    ("ConferenceService", "GatherUsingAudio", "POST",
     "/conferences/{id}/actions/gather_using_audio"),
    ("ConferenceService", "UpdateSupervisorRole", "POST", "/conferences/{id}/actions/update"),
    ("ConferenceService", "ListParticipants", "GET", "/conferences/{conference_id}/participants"),
    ("ConferenceService", "GetParticipant", "GET",
     "/conferences/{id}/participants/{participant_id}"),
    ("ConferenceService", "UpdateParticipant", "PATCH",
     "/conferences/{id}/participants/{participant_id}"),
    ("QueueService", "ListQueues", "GET", "/queues"),
    ("QueueService", "CreateQueue", "POST", "/queues"),
    ("QueueService", "GetQueue", "GET", "/queues/{queue_name}"),
    ("QueueService", "UpdateQueue", "POST", "/queues/{queue_name}"),
    ("QueueService", "DeleteQueue", "DELETE", "/queues/{queue_name}"),
    ("QueueService", "ListQueueCalls", "GET", "/queues/{queue_name}/calls"),
    ("QueueService", "GetQueueCall", "GET", "/queues/{queue_name}/calls/{call_control_id}"),
    ("QueueService", "UpdateQueueCall", "PATCH", "/queues/{queue_name}/calls/{call_control_id}"),
    ("QueueService", "DeleteQueueCall", "DELETE", "/queues/{queue_name}/calls/{call_control_id}"),
    ("QueueService", "EnqueueCall", "POST", "/calls/{call_control_id}/actions/enqueue"),
    ("QueueService", "LeaveQueue", "POST", "/calls/{call_control_id}/actions/leave_queue"),
    ("CallService", "Dial", "POST", "/calls"),
    ("CallService", "Answer", "POST", "/calls/{call_control_id}/actions/answer"),
    ("CallService", "Hangup", "POST", "/calls/{call_control_id}/actions/hangup"),
    ("CallService", "Bridge", "POST", "/calls/{call_control_id}/actions/bridge"),
    ("CallService", "Transfer", "POST", "/calls/{call_control_id}/actions/transfer"),
    ("CallService", "ListActiveCalls", "GET", "/connections/{connection_id}/active_calls"),
    ("CallService", "ListCallControlApplications", "GET", "/call_control_applications"),
    ("CallService", "CreateCallControlApplication", "POST", "/call_control_applications"),
    ("CallService", "GetCallControlApplication", "GET", "/call_control_applications/{id}"),
    ("CallService", "UpdateCallControlApplication", "PATCH", "/call_control_applications/{id}"),
    ("CallService", "DeleteCallControlApplication", "DELETE", "/call_control_applications/{id}"),
    ("CallService", "ListCallEvents", "GET", "/call_events"),
    ("CallService", "GetCall", "GET", "/calls/{call_control_id}"),
    ("CallService", "Reject", "POST", "/calls/{call_control_id}/actions/reject"),
    ("CallService", "Refer", "POST", "/calls/{call_control_id}/actions/refer"),
    ("CallService", "UpdateClientState", "PUT",
     "/calls/{call_control_id}/actions/client_state_update"),
    ("CallService", "SwitchSupervisorRole", "POST",
     "/calls/{call_control_id}/actions/switch_supervisor_role"),
    ("CallService", "Speak", "POST", "/calls/{call_control_id}/actions/speak"),
    ("CallService", "StartPlayback", "POST", "/calls/{call_control_id}/actions/playback_start"),
    ("CallService", "StopPlayback", "POST", "/calls/{call_control_id}/actions/playback_stop"),
    ("CallService", "Gather", "POST", "/calls/{call_control_id}/actions/gather"),
    ("CallService", "StopGather", "POST", "/calls/{call_control_id}/actions/gather_stop"),
    ("CallService", "GatherUsingAudio", "POST",
     "/calls/{call_control_id}/actions/gather_using_audio"),
    ("CallService", "GatherUsingSpeak", "POST",
     "/calls/{call_control_id}/actions/gather_using_speak"),
    ("CallService", "GatherUsingAi", "POST", "/calls/{call_control_id}/actions/gather_using_ai"),
    ("CallService", "SendDtmf", "POST", "/calls/{call_control_id}/actions/send_dtmf"),
    ("CallService", "SendSipInfo", "POST", "/calls/{call_control_id}/actions/send_sip_info"),
    ("CallService", "StartRecording", "POST", "/calls/{call_control_id}/actions/record_start"),
    ("CallService", "StopRecording", "POST", "/calls/{call_control_id}/actions/record_stop"),
    ("CallService", "PauseRecording", "POST", "/calls/{call_control_id}/actions/record_pause"),
    ("CallService", "ResumeRecording", "POST", "/calls/{call_control_id}/actions/record_resume"),
    ("CallService", "StartForking", "POST", "/calls/{call_control_id}/actions/fork_start"),
    ("CallService", "StopForking", "POST", "/calls/{call_control_id}/actions/fork_stop"),
    ("CallService", "StartStreaming", "POST", "/calls/{call_control_id}/actions/streaming_start"),
    ("CallService", "StopStreaming", "POST", "/calls/{call_control_id}/actions/streaming_stop"),
    ("CallService", "StartTranscription", "POST",
     "/calls/{call_control_id}/actions/transcription_start"),
    ("CallService", "StopTranscription", "POST",
     "/calls/{call_control_id}/actions/transcription_stop"),
    ("CallService", "StartNoiseSuppression", "POST",
     "/calls/{call_control_id}/actions/suppression_start"),
    ("CallService", "StopNoiseSuppression", "POST",
     "/calls/{call_control_id}/actions/suppression_stop"),
    ("CallService", "StartSiprec", "POST", "/calls/{call_control_id}/actions/siprec_start"),
    ("CallService", "StopSiprec", "POST", "/calls/{call_control_id}/actions/siprec_stop"),
    ("CallService", "StartAiAssistant", "POST",
     "/calls/{call_control_id}/actions/ai_assistant_start"),
    ("CallService", "StopAiAssistant", "POST",
     "/calls/{call_control_id}/actions/ai_assistant_stop"),
    ("CallService", "JoinAiAssistant", "POST",
     "/calls/{call_control_id}/actions/ai_assistant_join"),
    ("CallService", "AddAiAssistantMessages", "POST",
     "/calls/{call_control_id}/actions/ai_assistant_add_messages"),
    ("CallService", "StartConversationRelay", "POST",
     "/calls/{call_control_id}/actions/conversation_relay_start"),
    ("CallService", "StopConversationRelay", "POST",
     "/calls/{call_control_id}/actions/conversation_relay_stop"),
    ("EventService", "ListWebhookDeliveries", "GET", "/webhook_deliveries"),
    ("EventService", "GetWebhookDelivery", "GET", "/webhook_deliveries/{id}"),
]

# Path parameters whose proto field name differs from Telnyx's, by path prefix.
PATH_PARAM_RENAMES = {
    "/conferences/{id}": {"id": "conference_id"},
    "/call_control_applications/{id}": {"id": "application_id"},
    "/webhook_deliveries/{id}": {"id": "webhook_delivery_id"},
}

# Request body properties renamed in one RPC: (rpc, Telnyx name) -> proto field name.
BODY_RENAMES = {("Bridge", "call_control_id"): "other_call_control_id"}

# Property names that are not lower_snake_case: Telnyx name -> proto field name.
FIELD_RENAMES = {"outbound.outbound_voice_profile_id": "outbound_voice_profile_id"}

# Telnyx's consolidated `filter` parameter lists the union of several operations' filters;
# these are the properties each operation actually takes. Operations with an inline filter
# schema of their own (ListParticipants) take all of it.
FILTER_PROPERTIES = {
    "ListConferences": ["name", "status"],
    "ListCallControlApplications": ["application_name", "outbound.outbound_voice_profile_id"],
    "ListCallEvents": [
        "leg_id", "application_session_id", "connection_id", "product", "failed", "from", "to",
        "name", "type", "occurred_at", "status",
    ],
}

# Query parameters replaced by page_size/page_token.
PAGE_PARAMS = {"page", "page[number]", "page[size]"}

# Parameters (components/parameters) typed with a top-level enum instead of a nested one.
PARAM_ENUM_TYPES = {"ConferenceRegion": "ConferenceRegion"}

# Response field holding a single resource, by resource schema.
RESOURCE_FIELDS = {
    "Conference": "conference",
    "ConferenceParticipant": "participant",
    "Queue": "queue",
    "QueueCall": "queue_call",
    "CallWithRecordingId": "call",
    "CallControlApplication": "call_control_application",
    "Call": "call",
    "webhook_delivery": "webhook_delivery",
}

# Response field holding the items of a page, by item schema.
LIST_FIELDS = {
    "Conference": "conferences",
    "Participant": "participants",
    "Queue": "queues",
    "QueueCall": "queue_calls",
    "ActiveCall": "active_calls",
    "CallControlApplication": "call_control_applications",
    "CallEvent": "call_events",
    "webhook_delivery": "webhook_deliveries",
}

# Command results whose fields are inlined into the response message.
COMMAND_RESULTS = {
    "ConferenceCommandResult", "CallControlCommandResult",
    "CallControlCommandResultWithRecordingId", "CallControlCommandResultWithConversationId",
    "CallControlCommandResultWithConversationRelayId",
}

# The Struct field of an object that takes keys beyond its properties
# (`additionalProperties: true`), with `(field).additional_properties`.
ADDITIONAL_PROPERTIES = "additional_properties"

# Message names of components whose name is not PascalCase.
COMPONENT_NAMES = {
    "webhook_delivery": "WebhookDelivery",
    "attempt": "WebhookDeliveryAttempt",
    "http": "WebhookDeliveryHttp",
}

# Webhook events delivered by EventService, by their key in the spec's `webhooks` (the
# reference pages' camelCase name). The order fixes the `Event.payload` member numbers
# (from EVENT_FIRST_MEMBER): append new events, never reorder.
EVENTS = [
    "callEnqueued", "callLeftQueue", "conferenceCreated", "conferenceEnded",
    "conferenceFloorChanged", "conferenceParticipantJoined", "conferenceParticipantLeft",
    "conferenceParticipantPlaybackEnded", "conferenceParticipantPlaybackStarted",
    "conferenceParticipantSpeakEnded", "conferenceParticipantSpeakStarted",
    "conferencePlaybackEnded", "conferencePlaybackStarted", "conferenceRecordingSaved",
    "conferenceSpeakEnded", "conferenceSpeakStarted",
    "callAnswered", "callStreamingStarted", "callStreamingStopped", "callStreamingFailed",
    "callBridged", "callInitiated", "callHangup", "callRecordingSaved",
    "callMachineDetectionEnded", "callMachineGreetingEnded", "callMachinePremiumDetectionEnded",
    "callMachinePremiumGreetingEnded",
    "callHold", "callUnhold", "callDtmfReceived", "callCost",
    "callSpeakStarted", "callSpeakEnded", "callPlaybackStarted", "callPlaybackEnded",
    "callGatherEnded", "CallAIGatherEnded", "CallAIGatherPartialResults",
    "CallAIGatherMessageHistoryUpdated",
    "callRecordingError", "callRecordingTranscriptionSaved",
    "callForkStarted", "callForkStopped",
    "callReferStarted", "callReferCompleted", "callReferFailed",
    "callSiprecStarted", "callSiprecStopped", "callSiprecFailed",
    "transcription", "callConversationEnded", "callConversationInsightsGenerated",
    "callDeepfakeDetectionResult", "callDeepfakeDetectionError",
]
EVENT_FIRST_MEMBER = 10

# Payload message names (without `Payload`) of events whose key in `webhooks` does not give a
# good one (default: PascalCase of the key).
EVENT_NAMES = {
    "CallAIGatherEnded": "CallAiGatherEnded",
    "CallAIGatherPartialResults": "CallAiGatherPartialResults",
    "CallAIGatherMessageHistoryUpdated": "CallAiGatherMessageHistoryUpdated",
    "transcription": "CallTranscription",
}

# Inline `oneOf`s of component references: tuple of variants -> (message name, oneof name,
# comment). Component `oneOf`s keep their component name.
UNIONS = {
    ("ElevenLabsVoiceSettings", "TelnyxVoiceSettings", "AWSVoiceSettings",
     "MinimaxVoiceSettings", "AzureVoiceSettings", "RimeVoiceSettings",
     "ResembleVoiceSettings", "InworldVoiceSettings", "XAIVoiceSettings"): (
        "VoiceSettings", "provider",
        "Provider-specific settings for the voice selected (Telnyx's `voice_settings`). Set the "
        "member of the provider named in the voice; its `type` is written by the gateway."),
    ("TranscriptionEngineGoogleConfig", "TranscriptionEngineTelnyxConfig",
     "TranscriptionEngineDeepgramConfig", "TranscriptionEngineAzureConfig",
     "TranscriptionEngineXaiConfig", "TranscriptionEngineAssemblyaiConfig",
     "TranscriptionEngineSpeechmaticsConfig", "TranscriptionEngineSonioxConfig",
     "TranscriptionEngineParakeetConfig", "TranscriptionEngineAConfig",
     "TranscriptionEngineBConfig"): (
        "TranscriptionEngineConfig", "engine",
        "Engine-specific transcription settings (Telnyx's `transcription_engine_config`). Set "
        "the member of the engine in use; its `transcription_engine` is written by the "
        "gateway."),
    ("BookAppointmentTool", "CheckAvailabilityTool", "WebhookTool", "HangupTool",
     "TransferTool", "CallControlRetrievalTool"): (
        "AssistantTool", "tool",
        "An inline tool definition available to the AI assistant. Its `type` is written by the "
        "gateway."),
    ("UserMessage", "AssistantMessage", "ToolMessage", "SystemMessage", "DeveloperMessage"): (
        "AiAssistantMessage", "message",
        "A message of an AI assistant conversation, by its author's role. Its `role` is written "
        "by the gateway."),
}

# Inline unions that mix scalars, arrays and objects: (schema, property) -> (message name,
# oneof name, comment).
MIXED_UNIONS = {
    ("CallControlTransferToolParams", "targets"): (
        "TransferTargets", "value",
        "The targets of an assistant transfer: either a list of target objects or a dynamic "
        "variable string that resolves to one at run time."),
}

# oneof names and comments of component unions.
COMPONENT_UNIONS = {
    "Loopcount": ("value", "How many times audio is played: a count, or the string `infinity`."),
    "TranscriptionEngineDeepgramConfig": (
        "model", "Deepgram transcription settings, by model. The `transcription_engine` and "
                 "`transcription_model` of the variant are written by the gateway."),
}

# oneof member names: discriminator value (or component, or scalar type) -> member name.
UNION_MEMBER_NAMES = {
    ("TranscriptionEngineConfig", "A"): "engine_a",
    ("TranscriptionEngineConfig", "B"): "engine_b",
    ("TranscriptionEngineDeepgramConfig", "deepgram/nova-2"): "nova2",
    ("TranscriptionEngineDeepgramConfig", "deepgram/nova-3"): "nova3",
    ("Loopcount", "string"): "text",
    ("Loopcount", "integer"): "count",
    ("TransferTargets", "array"): "list",
    ("TransferTargets", "string"): "dynamic_variable",
}
UNION_MEMBER_COMMENTS = {
    ("Loopcount", "string"): "The special string `infinity`, for an endless loop.",
    ("Loopcount", "integer"): "A number of times, between 1 and 100.",
    ("TransferTargets", "array"): (
        "The list of targets, each an object with `to` (required; destination number or SIP "
        "URI) and `name` (the name of the target)."),
    ("TransferTargets", "string"): (
        "A dynamic variable string like `{{ targets }}`, resolved to a list of targets at run "
        "time."),
}

# Message names of objects nested in arrays or maps, by property (default: PascalCase of the
# property).
ITEM_MESSAGE_NAMES = {
    "headers": "Header",
    "webhook_retries_policies": "WebhookRetriesPolicy",
    "results": "InsightResult",
}

# Comments of component messages, replacing the spec's bare titles.
MESSAGE_COMMENTS = {
    "Conference": "A conference: call legs bridged together by Telnyx. Conferences are created on "
                  "demand and expire after all participants have left or after 4 hours.",
    "ConferenceParticipant": "A conference participant, as returned by GetParticipant and "
                             "UpdateParticipant.",
    "Participant": "A conference participant, as listed by ListParticipants.",
    "Queue": "A call queue.",
    "QueueCall": "A call waiting in a queue.",
    "CallWithRecordingId": "A call leg, as returned by Dial. `recording_id` is set when "
                           "`record` was `record-from-answer`.",
    "ActiveCall": "An active call of a connection.",
    "CallControlApplication": "A Call Control application: the connection whose webhook URL "
                              "receives the events of the calls it handles.",
    "CallEvent": "A call event: a command sent to, or a webhook sent by, Telnyx for a call leg.",
    "CallControlApplicationInbound": "Inbound settings of a Call Control application.",
    "CallControlApplicationOutbound": "Outbound settings of a Call Control application.",
    "BookAppointmentTool": "Assistant tool that books an appointment on Cal.com.",
    "BookAppointmentToolParams": "Parameters of the Cal.com booking tool.",
    "CheckAvailabilityTool": "Assistant tool that checks availability on Cal.com.",
    "CheckAvailabilityToolParams": "Parameters of the Cal.com availability tool.",
    "WebhookTool": "Assistant tool that calls an external webhook.",
    "CallControlWebhookToolParams": "Parameters of the webhook tool.",
    "HangupTool": "Assistant tool that hangs up the call.",
    "HangupToolParams": "Parameters of the hangup tool.",
    "TransferTool": "Assistant tool that transfers the call to one of several targets.",
    "CallControlTransferToolParams": "Parameters of the transfer tool.",
    "CallControlRetrievalTool": "Assistant tool that retrieves context from storage buckets.",
    "CallControlBucketIds": "The storage buckets the retrieval tool reads from.",
    "DeepgramNova2Config": "Deepgram transcription settings for the nova-2 model.",
    "DeepgramNova3Config": "Deepgram transcription settings for the nova-3 model.",
    "VoiceConfig": "The voice of the assistant, as `<Provider>.<Model>.<VoiceId>` (e.g. "
                   "`Telnyx.KokoroTTS.af`, `AWS.Polly.Joanna`, `ElevenLabs.<ModelId>.<VoiceId>`). "
                   "Defaults to `Telnyx.KokoroTTS.af`.",
    "TranscriptionStartRequest": "Transcription settings of a call (Telnyx's transcription start "
                                 "request, embedded in Dial and Answer).",
}

# Comments replacing the spec's, where the spec's are wrong for the operation.
COMMENT_OVERRIDES = {
    "ListCallEvents.filter.name": "Filter by event name, e.g. `call.hangup`.",
    "ListCallEvents.filter.status":
        "Filter by status (the spec documents the conference statuses for this filter).",
}

# Comments for schemas and properties the spec leaves undescribed.
FALLBACK_COMMENTS = {
    "record_type": "Identifies the type of the resource.",
    "CallControlApplication.id": "Uniquely identifies the Call Control application.",
    "CallControlApplication.webhook_timeout_secs":
        "Specifies how many seconds to wait before timing out a webhook.",
    "CallControlBucketIds.bucket_ids": "The IDs of the storage buckets to retrieve context from.",
    "CallControlRetrievalTool.retrieval": "The buckets the assistant can retrieve context from.",
    "BookAppointmentTool.book_appointment": "Parameters of the Cal.com booking tool.",
    "CheckAvailabilityTool.check_availability": "Parameters of the Cal.com availability tool.",
    "HangupTool.hangup": "Parameters of the hangup tool.",
    "TransferTool.transfer": "Parameters of the transfer tool.",
    "WebhookTool.webhook": "Parameters of the webhook tool.",
    "CallControlWebhookToolParams.headers.name": "The name of the header.",
    "CallControlWebhookToolParams.body_parameters.type":
        "The JSON Schema type of the body parameters: always `object`.",
    "CallControlWebhookToolParams.path_parameters.type":
        "The JSON Schema type of the path parameters: always `object`.",
    "CallControlWebhookToolParams.query_parameters.type":
        "The JSON Schema type of the query parameters: always `object`.",
    "TranscriptionEngineGoogleConfig.speech_context.phrases":
        "Phrases to bias recognition toward.",
    "TranscriptionEngineAConfig.speech_context.phrases": "Phrases to bias recognition toward.",
    "TranscriptionStartRequest.transcription_engine_config":
        "Engine-specific settings; the member must match `transcription_engine`.",
    "dialogflow_config": "Dialogflow settings, used when `enable_dialogflow` is true.",
    "CallControlCommandResult.result": "The result of the command: `ok`.",
    "CallControlCommandResultWithRecordingId.result": "The result of the command: `ok`.",
    "ConferenceCommandResult.result": "The result of the command: `ok`.",
    "DeepgramNova2Config.language": "Language to use for speech recognition with nova-2.",
    "DeepgramNova3Config.language": "Language to use for speech recognition with nova-3.",
    "CallControlCommandResultWithConversationId.result": "The result of the command: `ok`.",
    "CallControlCommandResultWithConversationRelayId.result":
        "The result of the command: `ok`.",
    "CallConversationInsightsGeneratedPayload.results.result":
        "The result of the insight: an object, or a string.",
    "CallTranscriptionPayload.transcription_data": "The transcribed speech.",
    "GatherUsingAi.language": "The language of the conversation, for speech recognition.",
    "ListWebhookDeliveries.filter.attempts": "Filter by the delivery attempts.",
    "ListWebhookDeliveries.filter.finished_at": "Filter by when the delivery finished.",
    "ListWebhookDeliveries.filter.started_at": "Filter by when the delivery started.",
    "ListWebhookDeliveries.filter.status": "Filter by delivery status.",
    "ListWebhookDeliveries.filter.webhook": "Filter by the webhook delivered.",
    "StartTranscription.transcription_engine_config":
        "Engine-specific settings; the member must match `transcription_engine`.",
    "attempt.status": "Whether this attempt delivered the webhook.",
    "http.request.url": "The URL the webhook was sent to.",
    "http.response.status": "The HTTP status code of the response.",
    "webhook_delivery.webhook.payload": "The payload of the event; its fields vary by event type.",
}

# The first resources in resources.proto, in this order; the other messages follow
# alphabetically, then the enums.
RESOURCE_ORDER = [
    "Conference", "ConferenceParticipant", "Participant", "Queue", "QueueCall",
    "CallWithRecordingId", "ActiveCall", "CallControlApplication", "CallEvent",
]

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

# --------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------

HTML_TAG = re.compile(
    r"</?(?:code|br|ul|ol|li|p|b|i|em|strong|a|pre|span|div|sup|sub|h\d)\b[^>]*>", re.I)
MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()]*\))*\)")
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "incl.", "min.", "max.")


def clean(text: str | None) -> str:
    """Strips HTML and markdown markup from a description and collapses whitespace."""
    if not text:
        return ""
    t = str(text).replace("\r", "")
    t = re.sub(r"<br\s*/?>", " ", t, flags=re.I)
    t = re.sub(r"<code>([^<]*)</code>", r"`\1`", t, flags=re.I)
    t = HTML_TAG.sub("", t)
    t = MD_LINK.sub(link_text, t)
    t = t.replace("**", "")
    t = html.unescape(t)
    t = re.sub(r"(?m)^\s*[-*]\s+", "", t)  # bullets
    t = re.sub(r"\s+", " ", t).strip()
    return t


def link_text(m: re.Match) -> str:
    """Keeps a markdown link's words; drops links whose text is itself a URL or path."""
    text = m.group(1)
    if " " not in text and ("." in text or text.startswith("/")):
        return ""
    return text


def sentences(text: str) -> list[str]:
    out, start = [], 0
    for m in re.finditer(r"[.!?:](?=\s+[A-Z`\"'(\[])", text):
        end = m.end()
        chunk = text[start:end]
        if m.group() == ":":
            continue
        if any(chunk.endswith(a) for a in ABBREVIATIONS):
            continue
        out.append(chunk.strip())
        start = end
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def summarize(text: str | None, max_sentences: int = 3, soft_limit: int = 300) -> str:
    """Cleans a description and keeps its first sentences."""
    if not text:
        return ""
    # Keep the prose before the first heading (`**Supported Providers:**`).
    kept_paras = []
    for para in re.split(r"\n\s*\n", str(text)):
        heading = re.match(r"\s*\*\*[^*]+:?\*\*:?\s*(\n|$)", para)
        if heading:
            break
        kept_paras.append(para)
    t = clean("\n\n".join(kept_paras)) or clean(text)
    t = re.sub(r"\s+([.,;:])", r"\1", t)
    t = re.sub(r"(?<!\.)\.\.(?!\.)", ".", t)
    if not t:
        return ""
    parts = sentences(t)
    kept = [parts[0]]
    for s in parts[1:max_sentences]:
        if len(" ".join(kept)) + len(s) + 1 > soft_limit:
            break
        kept.append(s)
    out = " ".join(kept).strip()
    if out and out[-1] not in ".!?)":
        out += "."
    return out


def fmt_default(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def with_default(desc: str, schema: dict) -> str:
    if "default" not in schema:
        return desc
    v = schema["default"]
    if v is None or v == "null" or v == [] or v == "" or isinstance(v, dict):
        return desc
    if "default" in desc.lower():
        return desc
    note = f"Defaults to `{fmt_default(v)}`."
    return f"{desc} {note}".strip()


def comment_lines(text: str, indent: str) -> list[str]:
    prefix = indent + "// "
    out = []
    for para in text.split("\n"):
        wrapped = textwrap.wrap(para, width=WIDTH - len(prefix), break_long_words=False,
                                break_on_hyphens=False) or [""]
        out.extend((prefix + w).rstrip() for w in wrapped)
    return out


def pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)


def upper_snake(name: str) -> str:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").upper()


def value_suffix(v: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", v).strip("_").upper()


def member_name(v: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", v.lower()).strip("_")


def proto_name(component: str) -> str:
    """The name of a component's message or enum."""
    name = COMPONENT_NAMES.get(component, component)
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), f"component {component}: name it"
    return name


def message_base(service: str, rpc: str) -> str:
    """The prefix of an RPC's request and response messages: the RPC name, qualified by the
    service when an earlier service has an RPC of that name (buf's STANDARD rules allow
    `<Service><Rpc>Request`): `CallServiceSpeakRequest` beside ConferenceService's
    `SpeakRequest`."""
    for svc, name, _, _ in RPCS:
        if name == rpc:
            return rpc if svc == service else service + rpc
    raise KeyError(rpc)


def is_lower_snake(name: str) -> bool:
    return re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name) is not None


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


class TypeRef:
    """A reference to a top-level type of the package (resolved at render time)."""

    def __init__(self, name: str):
        self.name = name


class Field:
    def __init__(self, name, type_, number, comment, label="", opts=None, json_name=None):
        self.name = name
        self.type = type_  # str (scalar / WKT / nested name) or TypeRef
        self.number = number
        self.comment = comment
        self.label = label  # "", "optional", "repeated", or ("map", key)
        self.opts = opts or {}
        self.json_name = json_name or name
        self.path = False  # a path parameter


class Enum:
    def __init__(self, name, comment, values, direction):
        self.name = name
        self.comment = comment
        self.prefix = upper_snake(name)
        self.values = []  # (name, wire or None)
        self.direction = direction
        for v in values:
            suffix = value_suffix(v)
            assert suffix, f"enum {name}: cannot name value {v!r}"
            if suffix == "UNSPECIFIED":  # Telnyx's own `unspecified`, not the zero value
                suffix = "NOT_SPECIFIED"
            wire = None if v == suffix.lower() else v
            self.values.append((f"{self.prefix}_{suffix}", wire))


class Message:
    def __init__(self, name, comment, direction):
        self.name = name
        self.comment = comment
        self.direction = direction  # "request", "response" or "both"
        self.fields: list[Field] = []
        self.nested: list = []
        self.oneof = None  # (name, comment) when the fields are the members of one oneof
        self.union = False
        self.constants: list[tuple[str, str]] = []
        self.event_type = ""  # the webhook event type whose payload this message is
        self.require_any_of: list[str] = []  # fields of which at least one must be set

    def add(self, name, type_, comment, label="", opts=None, json_name=None):
        assert all(f.name != name for f in self.fields), f"{self.name}: duplicate field {name}"
        f = Field(name, type_, len(self.fields) + 1, comment, label, opts, json_name)
        self.fields.append(f)
        return f

    def nested_names(self):
        return {n.name for n in self.nested}

    def add_nested(self, t):
        assert t.name not in self.nested_names(), f"{self.name}: duplicate nested type {t.name}"
        self.nested.append(t)
        return t.name


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------


class Generator:
    def __init__(self, spec: dict, docs: dict[str, str] | None = None):
        self.spec = spec
        self.docs = docs or {}  # reference page name -> markdown
        self.schemas = spec["components"]["schemas"]
        self.params = spec["components"].get("parameters", {})
        self.top: dict[str, object] = {}  # resources.proto: name -> Message | Enum
        self.building: set[str] = set()
        self.discriminators = self._collect_discriminators()
        self.req_components, self.resp_components = self._component_directions()
        self.file_refs: set[str] = set()  # top-level names referenced by the current file
        self.warnings: list[str] = []

    # ---- spec analysis ------------------------------------------------------------

    @staticmethod
    def ref_name(ref: str) -> str:
        assert ref.startswith("#/components/schemas/"), ref
        return ref.rsplit("/", 1)[1]

    def _walk(self, node, fn):
        if isinstance(node, dict):
            fn(node)
            for v in node.values():
                self._walk(v, fn)
        elif isinstance(node, list):
            for v in node:
                self._walk(v, fn)

    def _reach(self, roots) -> set[str]:
        seen: set[str] = set()

        def visit(node):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                n = self.ref_name(ref)
                if n not in seen:
                    seen.add(n)
                    self._walk(self.schemas[n], visit)
            elif isinstance(ref, str) and ref.startswith("#/components/parameters/"):
                self._walk(self.params[ref.rsplit("/", 1)[1]], visit)

        for r in roots:
            self._walk(r, visit)
        return seen

    def _component_directions(self):
        req_roots, resp_roots = [], []
        for _, _, method, path in RPCS:
            op = self.spec["paths"][path][method.lower()]
            req_roots += [op.get("parameters", []), op.get("requestBody", {})]
            resp_roots += [r for c, r in op["responses"].items() if c.startswith("2")]
        # Webhook payloads are read by the gateway, like responses.
        resp_roots += [self.spec["webhooks"][key] for key in EVENTS]
        return self._reach(req_roots), self._reach(resp_roots)

    def _collect_discriminators(self):
        """Component -> discriminator properties fixed by the unions it is a variant of."""
        out: dict[str, set[str]] = {}

        def mark(name, props):
            out.setdefault(name, set()).update(props)
            inner = self.schemas[name]
            if "oneOf" in inner and "discriminator" in inner:
                sub = props | {inner["discriminator"]["propertyName"]}
                for alt in inner["oneOf"]:
                    mark(self.ref_name(alt["$ref"]), sub)

        def visit(node):
            if "oneOf" in node and "discriminator" in node:
                pn = node["discriminator"]["propertyName"]
                for alt in node["oneOf"]:
                    mark(self.ref_name(alt["$ref"]), {pn})

        self._walk(self.spec["paths"], visit)
        self._walk(self.schemas, visit)
        return out

    def component_direction(self, name):
        req, resp = name in self.req_components, name in self.resp_components
        return "both" if req and resp else ("request" if req else "response")

    def deref_param(self, p):
        if "$ref" in p:
            key = p["$ref"].rsplit("/", 1)[1]
            return key, self.params[key]
        return None, p

    # ---- type resolution ------------------------------------------------------------

    def top_ref(self, name):
        self.file_refs.add(name)
        return TypeRef(proto_name(name))

    def describe(self, schema, owner_key, prop, direction="request"):
        key = f"{owner_key}.{prop}"
        desc = COMMENT_OVERRIDES.get(key) or summarize(schema.get("description"))
        if not desc:
            desc = FALLBACK_COMMENTS.get(key, "")
        if not desc and "$ref" in schema:
            desc = self.schema_comment(self.ref_name(schema["$ref"]))
        if not desc:
            desc = FALLBACK_COMMENTS.get(prop, "")
        if not desc:
            self.warnings.append(f"no description for {key}")
            desc = prop.replace("_", " ").capitalize() + "."
        if ".filter" in owner_key and schema.get("example") is not None and "e.g." not in desc:
            desc = f"{desc} Example: `{fmt_default(schema['example'])}`."
        if direction == "response":
            return desc
        return with_default(desc, schema)

    def resolve(self, schema, prop, owner: Message, owner_key: str, type_name=None):
        """Returns (type, label, opts, extra comment) for a property schema.

        Nested messages and enums are added to `owner`, named `type_name` or after the
        property; component types are added to resources.proto.
        """
        direction = owner.direction
        if "$ref" in schema:
            name = self.ref_name(schema["$ref"])
            target = self.schemas[name]
            ttype = target.get("type")
            if "enum" in target and ttype == "integer":
                vals = ", ".join(str(v) for v in target["enum"])
                return "int32", "optional", {}, f"One of {vals}."
            if "enum" in target:
                self.ensure_enum(name)
                return self.top_ref(name), "", {}, ""
            if ttype == "string":
                return "string", "", {}, ""
            if ttype == "array":
                return self.resolve(target, prop, owner, owner_key, type_name)
            if "oneOf" in target:
                self.ensure_component_union(name)
                return self.top_ref(name), "", {}, ""
            if ttype == "object" and not target.get("properties"):
                return "google.protobuf.Struct", "", {}, ""
            self.ensure_component_message(name)
            return self.top_ref(name), "", {}, ""

        if ("oneOf" in schema or "anyOf" in schema) and "properties" not in schema:
            alts = schema.get("oneOf") or schema.get("anyOf")
            if len(alts) == 1:  # a lone alternative is the type itself
                return self.resolve(alts[0], prop, owner, owner_key, type_name)
            kinds = sorted(a.get("type", "ref") for a in alts)
            if kinds == ["array", "string"] and all(
                    a.get("items", {}).get("type") == "string" for a in alts if "items" in a):
                return "string", "repeated", {"single_as_scalar": True}, ""
            if all("$ref" in a for a in alts):
                key = tuple(self.ref_name(a["$ref"]) for a in alts)
                extra = ""
                if key not in UNIONS:
                    # Some operations accept only some of the variants of a known union: they
                    # share its message, and say which members they take.
                    wider = [k for k in UNIONS if set(key) < set(k)]
                    assert len(wider) == 1, f"{owner_key}.{prop}: unnamed union {key}"
                    name = UNIONS[wider[0]][0]
                    union = self.top.get(name)
                    assert union, f"{owner_key}.{prop}: {name} is used whole before in part"
                    members = [f.name for k in key for f in union.fields
                               if f.type.name == proto_name(k)]
                    assert len(members) == len(key), f"{owner_key}.{prop}: {key}"
                    extra = ("Telnyx accepts only these members here: " +
                             ", ".join(f"`{m}`" for m in members) +
                             "; the gateway refuses the others.")
                    return self.top_ref(name), "", {"members": members}, extra
                name, oneof, comment = UNIONS[key]
                self.ensure_union(name, oneof, comment, alts, schema.get("discriminator"))
                return self.top_ref(name), "", {}, ""
            if all("$ref" not in a and not a.get("properties") and "items" not in a and
                   a.get("type") in ("object", "string", "number", "integer", "boolean")
                   for a in alts):
                # A free-form object or a scalar: any JSON value.
                return "google.protobuf.Value", "", {}, ""
            key = (owner_key.split(".")[0], prop)
            assert key in MIXED_UNIONS, f"{owner_key}.{prop}: unnamed mixed union"
            name, oneof, comment = MIXED_UNIONS[key]
            self.ensure_union(name, oneof, comment, alts, None)
            return self.top_ref(name), "", {}, ""

        if "allOf" in schema:
            merged = {"type": "object", "properties": {}, "required": []}
            for part in schema["allOf"]:
                part = self.schemas[self.ref_name(part["$ref"])] if "$ref" in part else part
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += part.get("required", [])
            return self.resolve(merged, prop, owner, owner_key, type_name)

        ttype = schema.get("type")
        if isinstance(ttype, list):
            non_null = [t for t in ttype if t != "null"]
            assert len(non_null) == 1, f"{owner_key}.{prop}: type {ttype}"
            ttype = non_null[0]

        if "enum" in schema and ttype != "boolean":  # `enum: [true, false]` is a bool
            values = [v for v in schema["enum"] if v is not None]
            if ttype == "integer":
                return "int32", "optional", {}, "One of " + ", ".join(map(str, values)) + "."
            assert all(isinstance(v, str) for v in values), f"{owner_key}.{prop}"
            if prop == "record_type" and len(values) == 1 and direction == "response":
                return "string", "", {}, f"Always `{values[0]}`."
            ename = type_name or pascal(prop)
            if ename not in owner.nested_names():
                owner.add_nested(Enum(ename, self.describe(schema, owner_key, prop, direction),
                                      values, direction))
            return ename, "", {}, ""

        if ttype == "string":
            if schema.get("format") == "date-time":
                return "google.protobuf.Timestamp", "", {}, ""
            if direction == "response" and RFC3339.match(str(schema.get("example", ""))):
                return "google.protobuf.Timestamp", "", {}, ""
            return "string", "", {}, ""
        if ttype == "boolean":
            return "bool", "optional", {}, ""
        if ttype == "integer":
            return ("int64" if schema.get("format") == "int64" else "int32"), "optional", {}, ""
        if ttype == "number":
            return ("float" if schema.get("format") == "float" else "double"), "optional", {}, ""
        if ttype == "array":
            items = schema.get("items", {})
            if items.get("type") == "array":
                # Lists of lists (`http_headers`: `[["Accept", "*/*"]]`): each inner list is a
                # ListValue, which the codec writes and reads as the JSON array it is.
                return "google.protobuf.ListValue", "repeated", {}, ""
            if "description" not in items and "$ref" not in items:
                items = dict(items, description=schema.get("description"))
            t, label, opts, extra = self.resolve(items, prop, owner, owner_key,
                                                 ITEM_MESSAGE_NAMES.get(prop))
            assert label in ("", "optional"), f"{owner_key}.{prop}: nested arrays"
            return t, "repeated", opts, extra
        if ttype == "object" or "properties" in schema or "additionalProperties" in schema:
            props = schema.get("properties")
            if props:
                mname = type_name or pascal(prop)
                if mname not in owner.nested_names():
                    nested = Message(mname, self.describe(schema, owner_key, prop, direction),
                                     direction)
                    owner.add_nested(nested)
                    self.fill(nested, schema, f"{owner_key}.{prop}")
                return mname, "", {}, ""
            addl = schema.get("additionalProperties")
            if isinstance(addl, dict) and addl:
                if "oneOf" in addl:
                    assert all(a.get("type") in ("string", "number", "boolean", "integer")
                               for a in addl["oneOf"]), f"{owner_key}.{prop}"
                    return "google.protobuf.Value", ("map", "string"), {}, ""
                if "description" not in addl:
                    addl = dict(addl, description=schema.get("description"))
                t, label, _, extra = self.resolve(addl, prop, owner, owner_key,
                                                  ITEM_MESSAGE_NAMES.get(prop))
                assert label in ("", "optional"), f"{owner_key}.{prop}: map of lists"
                return t, ("map", "string"), {}, extra
            return "google.protobuf.Struct", "", {}, ""
        raise AssertionError(f"{owner_key}.{prop}: cannot map schema {schema}")

    # ---- messages ---------------------------------------------------------------------

    def add_property(self, msg: Message, schema_key: str, prop: str, schema: dict,
                     required: bool, field_name: str | None = None, query: bool = False):
        t, label, opts, extra = self.resolve(schema, prop, msg, schema_key)
        desc = self.describe(schema, schema_key, prop, msg.direction)
        if extra:
            desc = f"{desc} {extra}"
        name = field_name or FIELD_RENAMES.get(prop, prop)
        if not is_lower_snake(name):
            name = re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
                          .lower()).strip("_")
        opts = dict(opts)
        if name != prop:
            opts["name"] = prop
        if query:
            opts["query"] = True
        if required and msg.direction != "response":
            opts["required"] = True
        return msg.add(name, t, desc, label, opts, json_name=prop)

    def fill(self, msg: Message, schema: dict, schema_key: str, constants_from: set | None = None):
        required = set(schema.get("required", []))
        for prop, ps in (schema.get("properties") or {}).items():
            values = [v for v in ps.get("enum", []) if v is not None]
            if constants_from and prop in constants_from and len(values) == 1:
                msg.constants.append((prop, values[0]))
                continue
            self.add_property(msg, schema_key, prop, ps, prop in required)
        if schema.get("additionalProperties") is True and schema.get("properties"):
            # An object that takes any other key beside its properties: the other keys
            # travel in a Struct the codec writes into (and reads from) the object itself.
            msg.add(ADDITIONAL_PROPERTIES, "google.protobuf.Struct",
                    "Any other keys Telnyx accepts in this object, written beside the fields "
                    "above. A key that one of those fields names is refused.",
                    opts={"additional_properties": True})

    def schema_comment(self, name):
        s = self.schemas[name]
        desc = MESSAGE_COMMENTS.get(name) or summarize(s.get("description"))
        if not desc and s.get("title"):
            desc = s["title"].rstrip(".") + "."
        return desc or f"{name}."

    def ensure_component_message(self, name):
        if name in self.top or name in self.building:
            return
        self.building.add(name)
        schema = self.schemas[name]
        msg = Message(proto_name(name), self.schema_comment(name),
                      self.component_direction(name))
        self.top[name] = msg
        self.fill(msg, schema, name, self.discriminators.get(name))
        if self.discriminators.get(name):
            wanted = {p for p in self.discriminators[name] if p in schema.get("properties", {})}
            assert wanted == {k for k, _ in msg.constants}, f"{name}: discriminator not constant"

    def ensure_enum(self, name):
        if name in self.top:
            return
        schema = self.schemas[name]
        self.top[name] = Enum(proto_name(name), with_default(self.schema_comment(name), schema),
                              [v for v in schema["enum"] if v is not None],
                              self.component_direction(name))

    def ensure_component_union(self, name):
        if name in self.top:
            return
        schema = self.schemas[name]
        oneof, comment = COMPONENT_UNIONS[name]
        self.ensure_union(name, oneof, comment, schema["oneOf"], schema.get("discriminator"),
                          self.component_direction(name))

    def ensure_union(self, name, oneof, comment, alts, discriminator, direction=None):
        if name in self.top:
            return
        msg = Message(name, comment, direction or "request")
        msg.union = True
        msg.oneof = (oneof, "Exactly one member is set; it is written as the JSON value itself.")
        self.top[name] = msg
        by_ref = {}
        if discriminator:
            by_ref = {self.ref_name(r): k for k, r in discriminator["mapping"].items()}
        for alt in alts:
            if "$ref" in alt:
                ref = self.ref_name(alt["$ref"])
                key = by_ref.get(ref, ref)
                mname = UNION_MEMBER_NAMES.get((name, key)) or member_name(key)
                if "oneOf" in self.schemas[ref]:
                    self.ensure_component_union(ref)
                else:
                    self.ensure_component_message(ref)
                msg.add(mname, self.top_ref(ref), self.schema_comment(ref))
                continue
            kind = alt.get("type")
            mname = UNION_MEMBER_NAMES[(name, kind)]
            comment_ = UNION_MEMBER_COMMENTS.get((name, kind)) or summarize(alt.get("description"))
            if kind == "array":
                msg.add(mname, "google.protobuf.ListValue", comment_)
            elif kind == "string":
                msg.add(mname, "string", comment_)
            elif kind == "integer":
                msg.add(mname, "int32", comment_)
            else:
                raise AssertionError(f"{name}: union member {alt}")

    # ---- requests and responses -----------------------------------------------------

    def operation(self, method, path):
        return self.spec["paths"][path][method.lower()]

    def build_request(self, rpc, method, path, op) -> tuple[Message, str, bool]:
        msg = Message(f"{rpc}Request", f"Request of {rpc}.", "request")
        renames = {}
        for prefix, ren in PATH_PARAM_RENAMES.items():
            if path.startswith(prefix):
                renames.update(ren)
        proto_path = path
        params = [self.deref_param(p) for p in op.get("parameters", [])]
        path_params = [p for _, p in params if p["in"] == "path"]
        # Path parameters, in path order.
        order = re.findall(r"{([^}]+)}", path)
        assert sorted(order) == sorted(p["name"] for p in path_params), path
        for pname in order:
            p = next(x for x in path_params if x["name"] == pname)
            fname = renames.get(pname, pname)
            proto_path = proto_path.replace("{" + pname + "}", "{" + fname + "}")
            desc = summarize(p.get("description")) or f"The `{pname}` path parameter."
            msg.add(fname, "string", desc).path = True
        is_list = self.is_list(op)
        if is_list:
            msg.add("page_size", "int32",
                    "Maximum number of items to return, at most 250; 0 means Telnyx's default "
                    "of 20.")
            msg.add("page_token", "string",
                    "Opaque token from a previous response's `next_page_token`; empty for the "
                    "first page.")
        for key, p in params:
            if p["in"] != "query" or p["name"] in PAGE_PARAMS:
                continue
            query_opt = method in ("POST", "PATCH")
            if p["name"] == "filter":
                self.add_filter(msg, rpc, p, query_opt)
                continue
            if key in PARAM_ENUM_TYPES:
                ename = PARAM_ENUM_TYPES[key]
                self.ensure_enum(ename)
                opts = {"query": True} if query_opt else {}
                if p.get("required"):
                    opts["required"] = True
                msg.add(p["name"], self.top_ref(ename), summarize(p.get("description")),
                        opts=opts)
                continue
            schema = dict(p["schema"])
            schema.setdefault("description", p.get("description"))
            self.add_property(msg, rpc, p["name"], schema, bool(p.get("required")),
                              query=query_opt)
        body = op.get("requestBody")
        if body:
            bschema = body["content"]["application/json"]["schema"]
            if "$ref" in bschema:
                bname = self.ref_name(bschema["$ref"])
                bschema = self.schemas[bname]
            required = set(bschema.get("required", []))
            for prop, ps in (bschema.get("properties") or {}).items():
                fname = BODY_RENAMES.get((rpc, prop))
                self.add_property(msg, rpc, prop, ps, prop in required, field_name=fname)
            alternatives = self.required_alternatives(bschema)
            if alternatives:
                names = [next(f.name for f in msg.fields if f.json_name == a[0])
                         for a in alternatives]
                msg.require_any_of = names
                msg.comment += (" Telnyx requires at least one of " +
                                ", ".join(f"`{n}`" for n in names[:-1]) +
                                f" or `{names[-1]}`.")
        return msg, proto_path, is_list

    @staticmethod
    def required_alternatives(schema) -> list[list[str]]:
        """The `anyOf`/`oneOf` of a body that only lists alternative sets of required
        properties (`anyOf: [{required: [url]}, {required: [conversation_relay_url]}]`)."""
        alts = schema.get("anyOf") or schema.get("oneOf") or []
        if not alts or "properties" not in schema:
            return []
        assert all(set(a) == {"required"} and len(a["required"]) == 1 for a in alts), schema
        return [a["required"] for a in alts]

    def add_filter(self, msg: Message, rpc: str, param: dict, query_opt: bool):
        schema = param["schema"]
        props = schema["properties"]
        wanted = FILTER_PROPERTIES.get(rpc, list(props))
        missing = [w for w in wanted if w not in props]
        assert not missing, f"{rpc}: filter properties {missing} not in spec"
        fmsg = Message("Filter", f"Filters of {rpc} (Telnyx's `filter[...]` query parameters).",
                       "request")
        msg.add_nested(fmsg)
        for prop in props:  # spec order
            if prop in wanted:
                self.add_property(fmsg, f"{rpc}.filter", prop, props[prop],
                                  prop in schema.get("required", []))
        opts = {"query": True} if query_opt else {}
        msg.add("filter", "Filter", "Filters the results; unset filters are not sent.",
                opts=opts)

    @staticmethod
    def success(op):
        codes = sorted(c for c in op["responses"] if c.startswith("2"))
        assert len(codes) == 1, codes
        return codes[0], op["responses"][codes[0]]

    def response_data(self, op):
        _, resp = self.success(op)
        content = resp.get("content")
        if not content:
            return None
        schema = content["application/json"]["schema"]
        if "$ref" in schema:
            schema = self.schemas[self.ref_name(schema["$ref"])]
        return schema["properties"]["data"]

    def is_list(self, op):
        data = self.response_data(op)
        return data is not None and data.get("type") == "array"

    def cursor_paged(self, method, path):
        """Whether the operation pages by cursor (`page[after]`, `meta.cursors`)."""
        op = self.operation(method, path)
        try:
            schema = self.success(op)[1]["content"]["application/json"]["schema"]
            meta = schema["properties"]["meta"]["$ref"]
        except (KeyError, TypeError):
            return False
        return self.ref_name(meta) == "CursorPaginationMeta"

    def build_response(self, rpc, op) -> tuple[Message, str]:
        code, _ = self.success(op)
        data = self.response_data(op)
        msg = Message(f"{rpc}Response", "", "response")
        if data is None:
            msg.comment = f"Response of {rpc}. Telnyx answers {code} No Content."
            return msg, ""
        if data.get("type") == "array":
            item = self.ref_name(data["items"]["$ref"])
            field = LIST_FIELDS[item]
            self.ensure_component_message(item)
            msg.comment = f"Response of {rpc}: one page of {field.replace('_', ' ')}."
            msg.add(field, self.top_ref(item), "The items of this page.", "repeated")
            msg.add("next_page_token", "string",
                    "Token of the next page, to pass as `page_token`; empty on the last page.")
            meta = self.ref_name(self.success(op)[1]["content"]["application/json"]["schema"]
                                 ["properties"]["meta"]["$ref"])
            total = "total_items" if meta == "CursorPaginationMeta" else "total_results"
            msg.add("total_size", "int32",
                    f"Total number of items across all pages (Telnyx's `meta.{total}`).")
            return msg, field
        ref = self.ref_name(data["$ref"])
        if ref in COMMAND_RESULTS:
            schema = self.schemas[ref]
            msg.comment = f"Response of {rpc}: Telnyx's command result."
            props = schema["properties"]
            for prop in ["result"] + [p for p in props if p != "result"]:
                self.add_property(msg, ref, prop, props[prop], False)
            return msg, ""
        field = RESOURCE_FIELDS[ref]
        self.ensure_component_message(ref)
        msg.comment = f"Response of {rpc}: the {field.replace('_', ' ')}."
        msg.add(field, self.top_ref(ref), f"The {field.replace('_', ' ')} (Telnyx's `data`).")
        return msg, field

    def rpc_comment(self, rpc, method, path, op):
        desc = op.get("description") or op.get("summary") or ""
        m = re.search(r"\*\*Expected Webhooks:?\*\*:?", desc)
        main, hooks = (desc[:m.start()], desc[m.end():]) if m else (desc, "")
        text = summarize(main)
        events, notes = [], []
        for para in re.split(r"\n\s*\n", hooks):
            if para.strip().startswith("- "):
                for ev in re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", para):
                    if ev not in events:
                        events.append(ev)
            elif para.strip():
                notes.append(summarize(para))
        if events:
            text += " Expected webhooks: " + ", ".join(f"`{e}`" for e in events) + "."
        for note in notes:
            text += " " + note
        text += f" Telnyx: {method} {path} ({op['operationId']})."
        return text

    # ---- whole API ------------------------------------------------------------------

    def generate(self) -> dict[str, str]:
        spec_ops = {(m.upper(), p) for p, ops in self.spec["paths"].items()
                    for m in ops if m in ("get", "post", "put", "patch", "delete")}
        rpc_ops = [(m, p) for _, _, m, p in RPCS]
        assert len(rpc_ops) == len(set(rpc_ops)), "an operation has two RPCs"
        assert set(rpc_ops) == spec_ops, (
            f"operations without RPC: {sorted(spec_ops - set(rpc_ops))}; "
            f"RPCs without operation: {sorted(set(rpc_ops) - spec_ops)}")
        assert len({(s, r) for s, r, _, _ in RPCS}) == len(RPCS), "duplicate RPC name"
        webhooks = set(self.spec.get("webhooks", {}))
        assert webhooks == set(EVENTS), (
            f"webhooks without event: {sorted(webhooks - set(EVENTS))}; "
            f"events without webhook: {sorted(set(EVENTS) - webhooks)}")

        files: dict[str, str] = {}
        refs_by_file: dict[str, set[str]] = {}
        services = {}
        for service, (fname, _) in SERVICES.items():
            self.file_refs = set()
            rpcs = []
            for svc, rpc, method, path in RPCS:
                if svc != service:
                    continue
                op = self.operation(method, path)
                base = message_base(svc, rpc)
                req, proto_path, _ = self.build_request(base, method, path, op)
                resp, data_field = self.build_response(base, op)
                self.check_request(base, op, req)
                rpcs.append((rpc, method, proto_path, data_field, req, resp,
                             self.rpc_comment(rpc, method, path, op)))
            services[service] = rpcs
            refs_by_file[fname] = self.file_refs
        # resources.proto references
        self.file_refs = set()
        for service, (fname, comment) in SERVICES.items():
            files[fname] = self.render_service_file(service, comment, services[service],
                                                    refs_by_file[fname])
        self.file_refs = set()
        events = self.build_events()
        files["events.proto"] = self.render_events_file(events, self.file_refs)
        files["resources.proto"] = self.render_resources()
        self.check_names(events)
        return files

    def check_request(self, rpc, op, req: Message):
        """Every body and query property of the operation is in the request message."""
        fields = [f for f in req.fields if not f.path]
        json_names = {f.json_name for f in fields}
        body = op.get("requestBody")
        if body:
            bschema = body["content"]["application/json"]["schema"]
            if "$ref" in bschema:
                bschema = self.schemas[self.ref_name(bschema["$ref"])]
            required = set(bschema.get("required", []))
            for prop in bschema.get("properties", {}):
                assert prop in json_names, f"{rpc}: body property {prop} missing"
                f = next(f for f in fields if f.json_name == prop)
                assert f.opts.get("required", False) == (prop in required), \
                    f"{rpc}.{prop}: required mismatch"
            for alt in self.required_alternatives(bschema):
                assert all(a in json_names for a in alt), f"{rpc}: {alt} missing"
        for p in op.get("parameters", []):
            _, p = self.deref_param(p)
            if p["in"] == "query" and p["name"] not in PAGE_PARAMS:
                assert p["name"] in json_names, f"{rpc}: query parameter {p['name']} missing"
        for f in req.fields:
            if f.name == "other_call_control_id":
                assert f.opts == {"name": "call_control_id", "required": True}

    def check_names(self, extra: list[Message] = ()):
        """Enum value names are unique in their scope; every element has a comment."""
        def scope_values(types):
            seen = {}
            for t in types:
                if isinstance(t, Enum):
                    for vname, _ in t.values + [(t.prefix + "_UNSPECIFIED", None)]:
                        assert vname not in seen, f"{vname} in {t.name} and {seen[vname]}"
                        seen[vname] = t.name

        def walk(msg: Message):
            assert msg.comment, msg.name
            for f in msg.fields:
                assert f.comment, f"{msg.name}.{f.name}"
                assert is_lower_snake(f.name), f"{msg.name}.{f.name}"
            scope_values(msg.nested)
            for n in msg.nested:
                if isinstance(n, Message):
                    walk(n)
                else:
                    assert n.comment, n.name

        scope_values(list(self.top.values()) + list(extra))
        for t in list(self.top.values()) + list(extra):
            if isinstance(t, Message):
                walk(t)

    # ---- webhook events -------------------------------------------------------------

    def event_schemas(self, key):
        """The `data` object schema of webhook `key` and its payload schema.

        Real deliveries wrap the event in `data`; a few schemas of the spec
        (`conference.floor.changed`) describe the unwrapped object.
        """
        body = self.spec["webhooks"][key]["post"]["requestBody"]["content"]["application/json"]
        event = self.schemas[self.ref_name(body["schema"]["$ref"])]
        data = event["properties"].get("data", event)
        if "$ref" in data:
            data = self.schemas[self.ref_name(data["$ref"])]
        payload = data["properties"]["payload"]
        if "$ref" in payload:
            payload = self.schemas[self.ref_name(payload["$ref"])]
        return data, payload

    def build_events(self) -> list[Message]:
        assert len(set(EVENTS)) == len(EVENTS), "an event is listed twice"
        messages, seen_types = [], set()
        for key in EVENTS:
            data, payload = self.event_schemas(key)
            (event_type,) = data["properties"]["event_type"]["enum"]
            assert event_type not in seen_types, f"{key}: event type {event_type} twice"
            seen_types.add(event_type)
            name = EVENT_NAMES.get(key, pascal(key)) + "Payload"
            summary = self.spec["webhooks"][key]["post"].get("summary", key)
            msg = Message(name, f"The payload of `{event_type}` webhooks ({summary}).",
                          "response")
            msg.event_type = event_type
            self.fill(msg, payload, name)
            messages.append(msg)
        self.check_event_docs(messages)
        return messages

    def check_event_docs(self, messages: list[Message]):
        """The reference pages list only events of the spec, and no payload field it lacks.

        The pages describe the conference, queue and basic call events (28 of the 55); the
        spec's `webhooks` are the whole set, checked against EVENTS in `generate`.
        """
        if not self.docs:
            return
        by_key = dict(zip(EVENTS, messages))
        listed = []
        for text in self.docs.values():
            for table in re.findall(r"\| Event \| Description \|\n\|[-| ]+\|\n((?:\|.*\|\n)+)",
                                    text):
                listed += re.findall(r"^\| `(\w+)` \|", table, re.M)
        assert len(listed) == len(set(listed)), "an event is listed twice in the pages"
        assert set(listed) <= set(EVENTS), (
            f"events in the reference pages but not in EVENTS: {sorted(set(listed) - set(EVENTS))}")
        tables = 0
        for text in self.docs.values():
            for key, rows in re.findall(r"\*\*`(\w+)`\*\*\n\n\| Field .*\n\|[-| ]+\|\n((?:\|.*\|\n)+)",
                                        text):
                msg = by_key[key]
                tables += 1
                fields = {f.json_name for f in msg.fields}
                for field, ftype in re.findall(r"^\| `(?:data\.)?([\w.]+)` \| ([^|]+) \|", rows,
                                               re.M):
                    if field == "event_type":
                        assert ftype.strip() == f"enum: {msg.event_type}", (key, ftype)
                    if field.startswith("payload."):
                        top = field.split(".")[1]
                        assert top in fields, f"{key}: documented field {field} not generated"
        assert tables, "no payload tables found in the reference pages"

    def render_events_file(self, events: list[Message], refs) -> str:
        body = comment_lines(
            "One Telnyx webhook event, as accepted by the gateway and delivered by "
            "EventService.Subscribe.", "")
        body.append("message Event {")
        fixed = [
            ("string id = 1", "Telnyx's event id (`data.id`). Telnyx may deliver an event more "
             "than once; the gateway delivers each id once within its deduplication window."),
            ("string event_type = 2", "The dotted event type (`data.event_type`), e.g. "
             "`conference.participant.joined`."),
            ("google.protobuf.Timestamp occurred_at = 3", "When the event occurred: "
             "`data.occurred_at`, or `data.payload.occurred_at` for the events that carry it "
             "there. Unset when Telnyx sent neither."),
            ("string cursor = 4", "Opaque resume token: pass it as `SubscribeRequest.resume_after` "
             "to receive the events accepted after this one."),
            ("string json = 5", "Telnyx's `data` object exactly as received, as JSON text, so "
             "nothing is lost: fields this version of the gateway does not type are here too."),
            ("bool recovered = 6", "True when the webhook never reached the gateway and the "
             "gateway recovered the event from Telnyx's failed webhook deliveries "
             "(`GET /webhook_deliveries`) instead, after an outage; it is then delivered late and "
             "`json` is the delivery record's `webhook` object (same members, key order may "
             "differ)."),
        ]
        for i, (decl, comment) in enumerate(fixed):
            if i:
                body.append("")
            body += comment_lines(comment, "  ")
            body.append(f"  {decl};")
        body.append("")
        body += comment_lines(
            "The typed `data.payload`, by event type. Unset for an event type this version of "
            "the gateway does not know; `json` has it all the same.", "  ")
        body.append("  oneof payload {")
        for i, msg in enumerate(events):
            if i:
                body.append("")
            member = re.sub(r"Payload$", "", msg.name)
            member = upper_snake(member).lower()
            body += comment_lines(f"`{msg.event_type}`.", "    ")
            body.append(f"    {msg.name} {member} = {EVENT_FIRST_MEMBER + i};")
        body.append("  }")
        body.append("}")
        for msg in events:
            body.append("")
            body += self.render_message(msg, "", [])
        text = "\n".join(body)
        head = self.header(
            "events.proto",
            "Events: the webhook events Telnyx sends about conferences, queues and calls, as "
            "EventService.Subscribe delivers them, from the spec's `webhooks`.",
            self.imports_for(text, "events.proto", refs))
        return "\n".join(head + body) + "\n"

    # ---- rendering ------------------------------------------------------------------

    def type_name(self, t, chain: list[Message]) -> str:
        if isinstance(t, TypeRef):
            shadowed = any(t.name in m.nested_names() for m in chain)
            return f".{PACKAGE}.{t.name}" if shadowed else t.name
        return t

    @staticmethod
    def render_field_opts(opts: dict) -> str:
        if not opts:
            return ""
        parts = []
        known = ("name", "query", "required", "single_as_scalar", "members",
                 "additional_properties")
        for key in known:
            if key in opts:
                v = opts[key]
                if isinstance(v, list):
                    parts.append(f"{key}: [{', '.join(quote(i) for i in v)}]")
                else:
                    parts.append(f"{key}: {quote(v) if isinstance(v, str) else str(v).lower()}")
        unknown = set(opts) - set(known)
        assert not unknown, unknown
        return " [(field) = {" + ", ".join(parts) + "}]"

    def render_enum(self, e: Enum, indent: str) -> list[str]:
        out = comment_lines(e.comment, indent)
        out.append(f"{indent}enum {e.name} {{")
        unspecified = {"request": "Not set: the field is not sent.",
                       "response": "Not set: Telnyx did not report a value.",
                       "both": "Not set: not sent, or not reported by Telnyx."}[e.direction]
        out += comment_lines(unspecified, indent + "  ")
        out.append(f"{indent}  {e.prefix}_UNSPECIFIED = 0;")
        for i, (name, wire) in enumerate(e.values, 1):
            opt = f" [(wire_value) = {quote(wire)}]" if wire is not None else ""
            out.append(f"{indent}  {name} = {i}{opt};")
        out.append(f"{indent}}}")
        return out

    def render_message(self, m: Message, indent: str, chain: list[Message]) -> list[str]:
        chain = chain + [m]
        out = comment_lines(m.comment, indent)
        if not (m.fields or m.nested or m.union or m.constants or m.event_type or
                m.require_any_of):
            out.append(f"{indent}message {m.name} {{}}")
            return out
        out.append(f"{indent}message {m.name} {{")
        body: list[list[str]] = []
        opts = []
        if m.union:
            opts.append("untagged_union: true")
        for k, v in m.constants:
            opts.append(f"constants: {{key: {quote(k)} value: {quote(v)}}}")
        if m.event_type:
            opts.append(f"event_type: {quote(m.event_type)}")
        if m.require_any_of:
            opts.append(f"require_any_of: [{', '.join(quote(n) for n in m.require_any_of)}]")
        if opts:
            line = f"{indent}  option (message) = {{{' '.join(opts)}}};"
            if len(line) <= WIDTH:
                body.append([line])
            else:
                body.append([f"{indent}  option (message) = {{"] +
                            [f"{indent}    {o}" for o in opts] + [f"{indent}  }};"])
        inner = indent + ("    " if m.oneof else "  ")
        fields = []
        for f in m.fields:
            lines = comment_lines(f.comment, inner)
            tname = self.type_name(f.type, chain)
            if isinstance(f.label, tuple):
                decl = f"map<{f.label[1]}, {tname}> {f.name}"
            elif f.label:
                decl = f"{f.label} {tname} {f.name}"
            else:
                decl = f"{tname} {f.name}"
            lines.append(f"{inner}{decl} = {f.number}{self.render_field_opts(f.opts)};")
            fields.append(lines)
        if m.oneof:
            block = comment_lines(m.oneof[1], indent + "  ")
            block.append(f"{indent}  oneof {m.oneof[0]} {{")
            for i, lines in enumerate(fields):
                if i:
                    block.append("")
                block += lines
            block.append(f"{indent}  }}")
            body.append(block)
        else:
            body += fields
        for n in m.nested:
            if isinstance(n, Enum):
                body.append(self.render_enum(n, indent + "  "))
            else:
                body.append(self.render_message(n, indent + "  ", chain))
        for i, block in enumerate(body):
            if i:
                out.append("")
            out += block
        out.append(f"{indent}}}")
        return out

    def header(self, fname, description, imports) -> list[str]:
        out = [
            "// Code generated by tools/protogen.py from Telnyx's OpenAPI spec. DO NOT EDIT.",
            "// Regenerate with `python3 tools/protogen.py` from the repository root.",
            "//",
        ]
        out += comment_lines(description, "")
        out += ["", 'syntax = "proto3";', "", f"package {PACKAGE};", ""]
        for imp in sorted(imports):
            out.append(f'import "{imp}";')
        out.append("")
        out += [f"option {name} = {value};" for name, value in FILE_OPTIONS] + [""]
        return out

    @staticmethod
    def imports_for(text: str, own: str, refs: set[str]) -> set[str]:
        imps = set()
        if re.search(r"\((operation|field|message|wire_value)\)", text):
            imps.add(IMPORT_PREFIX + "options.proto")
        if "google.protobuf.Timestamp" in text:
            imps.add("google/protobuf/timestamp.proto")
        if re.search(r"google\.protobuf\.(Struct|Value|ListValue)\b", text):
            imps.add("google/protobuf/struct.proto")
        if refs and own != "resources.proto":
            imps.add(IMPORT_PREFIX + "resources.proto")
        return imps

    def render_service_file(self, service, comment, rpcs, refs) -> str:
        fname = SERVICES[service][0]
        hand = HAND_WRITTEN.get(service, {})
        body = []
        body += comment_lines(comment, "")
        body.append(f"service {service} {{")
        if hand:
            body.append(hand["rpcs"])
        for i, (rpc, method, path, data_field, req, resp, rcomment) in enumerate(rpcs):
            if i or hand:
                body.append("")
            body += comment_lines(rcomment, "  ")
            body.append(f"  rpc {rpc}({req.name}) returns ({resp.name}) {{")
            telnyx_path = next(p for s, r, m, p in RPCS if (s, r) == (service, rpc))
            cursor = " cursor_paging: true" if self.cursor_paged(method, telnyx_path) else ""
            body.append(f"    option (operation) = {{method: {quote(method)} path: {quote(path)} "
                        f"data_field: {quote(data_field)}{cursor}}};")
            body.append("  }")
        body.append("}")
        if hand:
            body += ["", hand["messages"]]
        for rpc, _, _, _, req, resp, _ in rpcs:
            body.append("")
            body += self.render_message(req, "", [])
            body.append("")
            body += self.render_message(resp, "", [])
        text = "\n".join(body)
        imports = self.imports_for(text, fname, refs) | hand.get("imports", set())
        head = self.header(fname, f"{service}: {comment}", imports)
        return "\n".join(head + body) + "\n"

    def render_resources(self) -> str:
        msgs = [t for t in self.top.values() if isinstance(t, Message)]
        enums = sorted((t for t in self.top.values() if isinstance(t, Enum)),
                       key=lambda e: e.name)
        first = [self.top[n] for n in RESOURCE_ORDER if n in self.top]
        rest = sorted((m for m in msgs if m.name not in RESOURCE_ORDER), key=lambda m: m.name)
        body: list[str] = []
        sections = [
            ("Resources returned by Telnyx.", first),
            ("Components of requests and resources, in alphabetical order.", rest),
            ("Enums shared by several messages.", enums),
        ]
        for title, items in sections:
            if not items:
                continue
            if body:
                body.append("")
            body += ["// " + "-" * 96, f"// {title}", "// " + "-" * 96]
            for t in items:
                body.append("")
                if isinstance(t, Enum):
                    body += self.render_enum(t, "")
                else:
                    body += self.render_message(t, "", [])
        text = "\n".join(body)
        head = self.header(
            "resources.proto",
            "Resources, shared request components, unions and enums of the Telnyx Voice API, "
            "from the spec's `#/components/schemas`.",
            self.imports_for(text, "resources.proto", set()))
        return "\n".join(head + body) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", type=Path,
                    default=Path(os.environ.get("TELNYX_OPENAPI_SPEC", DEFAULT_SPEC)),
                    help="Telnyx OpenAPI subset (YAML)")
    ap.add_argument("--docs", type=Path, default=DEFAULT_DOCS,
                    help="directory of Telnyx's reference pages (webhook tables)")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if a generated file differs")
    ap.add_argument("-v", "--verbose", action="store_true", help="print warnings")
    args = ap.parse_args(argv)

    with open(args.spec, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    docs = {name: (args.docs / name).read_text(encoding="utf-8") for name in DOC_PAGES}
    gen = Generator(spec, docs)
    files = gen.generate()
    if args.verbose:
        for w in gen.warnings:
            print("warning:", w, file=sys.stderr)
    stale = []
    for name, text in sorted(files.items()):
        path = args.out / name
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check:
        for name in stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    for name in sorted(files):
        print(f"{'wrote' if name in stale else 'unchanged'}: {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
