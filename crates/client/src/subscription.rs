//! `EventService.Subscribe` as a stream that resumes by itself.
//!
//! The gateway ends every event stream with a status that says what to do
//! next (`event_service.proto`, and "Delivery guarantees" in the README):
//!
//! | The stream ends with | The subscription |
//! | --- | --- |
//! | `UNAVAILABLE` (shutdown for a restart or rollout, history store unreachable), a lost connection | subscribes again after a backoff with `resume_after` = the last event it delivered: no gap, no repeat |
//! | `RESOURCE_EXHAUSTED` (this subscriber read too slowly and was cut off) | the same |
//! | `OUT_OF_RANGE` (the cursor can no longer be served) | yields [`Item::Gap`] once the live stream that follows is registered, then the live events |
//! | anything else (`UNAUTHENTICATED`, `INVALID_ARGUMENT`, ...) | returns the status |

use std::time::Duration;

use tonic::{Code, Status, Streaming};
use tonic_types::StatusExt as _;

use crate::auth::AuthedChannel;
use crate::backoff::Backoff;
use crate::pb::{Event, SubscribeRequest, event_service_client::EventServiceClient};

/// The `ErrorInfo` domain of the gateway's event-stream statuses.
pub const EVENTS_ERROR_DOMAIN: &str = "events.conference-gateway";

/// Events may have been missed after `cursor`: the gateway could not resume
/// from it (`OUT_OF_RANGE`). Reconcile through the REST-backed RPCs
/// (`ListConferences`, `ListParticipants`, `ListQueueCalls`, ...); the events
/// after the gap are live ones, delivered from before it was yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The cursor that could not be resumed from: the last event delivered,
    /// or the `resume_after` the subscription was given.
    pub cursor: String,
    /// The gateway's `ErrorInfo` reason: `CURSOR_OTHER_HISTORY` after a
    /// restart of a gateway without Redis, `CURSOR_EXPIRED`, ...
    pub reason: String,
    /// The status message, for logs.
    pub message: String,
}

/// What a [`Subscription`] yields: an event, or the news that some may be
/// missing. Matching on it is the only way to reach the events, so a gap
/// cannot go unnoticed.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a Gap means events may have been missed"]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every item is an event, moved once: boxing it would add an allocation per event"
)]
pub enum Item {
    Event(Event),
    Gap(Gap),
}

/// A subscription that resumes by itself; see the module table. Each
/// [`Subscription::next`] returns the next [`Item`], waiting through
/// reconnects; it returns an error only for a status that reconnecting cannot
/// cure (or after [`Subscription::with_max_attempts`] reconnects in a row
/// without an event). Calling `next` again after an error subscribes again
/// from the same cursor.
///
/// One caveat the protocol imposes: before its first event a live
/// subscription has no cursor, so if its first stream is lost it starts live
/// again, as a new subscription would.
pub struct Subscription {
    client: EventServiceClient<AuthedChannel>,
    state: Resumption,
    stream: Option<Streaming<Event>>,
    pending_gap: Option<Gap>,
}

impl Subscription {
    pub fn new(client: EventServiceClient<AuthedChannel>, request: SubscribeRequest) -> Self {
        Subscription {
            client,
            state: Resumption::new(request, Backoff::default(), None),
            stream: None,
            pending_gap: None,
        }
    }

    /// Waits `backoff` between reconnects instead of [`Backoff::default`].
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.state.backoff = backoff;
        self
    }

    /// Gives up, returning the last status, after `attempts` reconnects in a
    /// row without an event. Unlimited by default.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.state.max_attempts = Some(attempts);
        self
    }

    /// The cursor of the last event delivered (or the `resume_after` given):
    /// where a new subscription would pick up. Persist it to resume after a
    /// restart of your own.
    pub fn cursor(&self) -> &str {
        &self.state.cursor
    }

    /// How many times the stream was opened again.
    pub fn reconnects(&self) -> u64 {
        self.state.reconnects
    }

    /// The next event or gap.
    pub async fn next(&mut self) -> Result<Item, Status> {
        loop {
            if self.stream.is_none() {
                let request = self.state.request();
                match self.client.subscribe(request).await {
                    // The gateway answers once the stream is registered:
                    // events accepted from here on will be delivered, so a
                    // caller reconciling after the gap misses nothing.
                    Ok(response) => {
                        self.stream = Some(response.into_inner());
                        if let Some(gap) = self.pending_gap.take() {
                            return Ok(Item::Gap(gap));
                        }
                    }
                    Err(status) => {
                        self.ended(status).await?;
                        continue;
                    }
                }
            }
            let Some(stream) = self.stream.as_mut() else {
                continue;
            };
            let ended = match stream.message().await {
                Ok(Some(event)) => {
                    self.state.delivered(&event);
                    return Ok(Item::Event(event));
                }
                Ok(None) => Status::unavailable("the event stream ended without a status"),
                Err(status) => status,
            };
            self.stream = None;
            self.ended(ended).await?;
        }
    }

    /// The items as a `Stream`, for combinators; it never ends by itself.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Item, Status>> + Send {
        futures::stream::unfold(self, |mut subscription| async move {
            let item = subscription.next().await;
            Some((item, subscription))
        })
    }

    async fn ended(&mut self, status: Status) -> Result<(), Status> {
        match self.state.ended(&status, fastrand::f64()) {
            Decision::Retry(delay) => {
                tracing::info!(
                    code = ?status.code(),
                    message = status.message(),
                    cursor = self.state.cursor.as_str(),
                    delay_ms = delay.as_millis() as u64,
                    "event stream ended; resuming"
                );
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Decision::Gap(gap) => {
                tracing::warn!(
                    cursor = gap.cursor.as_str(),
                    reason = gap.reason.as_str(),
                    "the gateway cannot resume the event stream: events may have been missed"
                );
                self.pending_gap = Some(gap);
                Ok(())
            }
            Decision::Fail => Err(status),
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("cursor", &self.state.cursor)
            .field("reconnects", &self.state.reconnects)
            .finish_non_exhaustive()
    }
}

/// What follows the end of a stream.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    Retry(Duration),
    Gap(Gap),
    Fail,
}

/// The subscription's memory, apart from the network: the request to send
/// next and what to do when a stream ends.
#[derive(Debug)]
struct Resumption {
    template: SubscribeRequest,
    cursor: String,
    backoff: Backoff,
    max_attempts: Option<u32>,
    /// Stream ends in a row without an event in between.
    failures: u32,
    reconnects: u64,
    opened: bool,
}

impl Resumption {
    fn new(mut request: SubscribeRequest, backoff: Backoff, max_attempts: Option<u32>) -> Self {
        let cursor = std::mem::take(&mut request.resume_after);
        Resumption {
            template: request,
            cursor,
            backoff,
            max_attempts,
            failures: 0,
            reconnects: 0,
            opened: false,
        }
    }

    fn request(&mut self) -> SubscribeRequest {
        if self.opened {
            self.reconnects += 1;
        }
        self.opened = true;
        SubscribeRequest {
            resume_after: self.cursor.clone(),
            ..self.template.clone()
        }
    }

    fn delivered(&mut self, event: &Event) {
        if !event.cursor.is_empty() {
            self.cursor.clone_from(&event.cursor);
        }
        self.failures = 0;
    }

    fn ended(&mut self, status: &Status, random: f64) -> Decision {
        let (reason, status_cursor) = error_info(status);
        if status.code() == Code::OutOfRange {
            self.failures = 0;
            // What follows is live: there is no cursor to resume from.
            return Decision::Gap(Gap {
                cursor: std::mem::take(&mut self.cursor),
                reason,
                message: status.message().to_owned(),
            });
        }
        if !resumable(status) {
            return Decision::Fail;
        }
        // The last event delivered is always the right place; the status's
        // cursor (the last event the gateway sent) only stands in for none.
        if self.cursor.is_empty()
            && let Some(cursor) = status_cursor
        {
            self.cursor = cursor;
        }
        self.failures += 1;
        if self.max_attempts.is_some_and(|max| self.failures > max) {
            return Decision::Fail;
        }
        Decision::Retry(self.backoff.delay(self.failures, random))
    }
}

/// Whether subscribing again can cure what ended the stream: the gateway's
/// own UNAVAILABLE and RESOURCE_EXHAUSTED, and a connection lost under the
/// stream, which tonic reports as UNAVAILABLE, CANCELLED, or UNKNOWN/INTERNAL
/// made from the transport error (a status the gateway sent has no source).
fn resumable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::ResourceExhausted | Code::Cancelled => true,
        Code::Unknown | Code::Internal => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

/// The reason and resume cursor a gateway status carries: from its
/// `ErrorInfo` (metadata key `cursor`), else from the message's
/// `resume_after="..."`.
fn error_info(status: &Status) -> (String, Option<String>) {
    let mut reason = String::new();
    if let Some(info) = status.get_details_error_info()
        && (info.domain.is_empty() || info.domain == EVENTS_ERROR_DOMAIN)
    {
        reason = info.reason;
        if let Some(cursor) = info.metadata.get("cursor").filter(|c| !c.is_empty()) {
            return (reason, Some(cursor.clone()));
        }
    }
    let hinted = status
        .message()
        .split_once("resume_after=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(cursor, _)| cursor.to_owned())
        .filter(|cursor| !cursor.is_empty());
    (reason, hinted)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::ErrorDetails;

    use super::*;

    fn with_cursor(code: Code, reason: &str, cursor: Option<&str>) -> Status {
        let metadata: HashMap<String, String> = cursor
            .map(|c| ("cursor".to_owned(), c.to_owned()))
            .into_iter()
            .collect();
        Status::with_error_details(
            code,
            "ended",
            ErrorDetails::with_error_info(reason, EVENTS_ERROR_DOMAIN, metadata),
        )
    }

    fn event(cursor: &str) -> Event {
        Event {
            cursor: cursor.into(),
            ..Default::default()
        }
    }

    fn resumption() -> Resumption {
        let request = SubscribeRequest {
            event_types: vec!["conference.*".into()],
            ..Default::default()
        };
        Resumption::new(request, Backoff::default(), None)
    }

    #[test]
    fn resumes_from_the_last_event_delivered_keeping_the_filters() {
        let mut state = resumption();
        assert_eq!(state.request().resume_after, "");
        state.delivered(&event("e.1-0"));
        state.delivered(&event("e.2-0"));
        // The gateway's cursor is the last one it sent, possibly unread here.
        let cut_off = with_cursor(
            Code::ResourceExhausted,
            "SUBSCRIBER_TOO_SLOW",
            Some("e.9-0"),
        );
        assert_eq!(
            state.ended(&cut_off, 0.0),
            Decision::Retry(Duration::from_millis(250))
        );
        let request = state.request();
        assert_eq!(request.resume_after, "e.2-0");
        assert_eq!(request.event_types, ["conference.*"]);
        assert_eq!(state.reconnects, 1);
    }

    #[test]
    fn takes_the_status_cursor_only_when_it_has_none() {
        let mut state = resumption();
        state.request();
        let shutdown = with_cursor(Code::Unavailable, "SHUTTING_DOWN", Some("e.4-0"));
        assert!(matches!(state.ended(&shutdown, 0.0), Decision::Retry(_)));
        assert_eq!(state.request().resume_after, "e.4-0");
        // Without ErrorInfo, the message's hint serves.
        let mut state = resumption();
        let hinted =
            Status::unavailable("the gateway is shutting down; resume with resume_after=\"e.7-1\"");
        assert!(matches!(state.ended(&hinted, 0.0), Decision::Retry(_)));
        assert_eq!(state.cursor, "e.7-1");
    }

    #[test]
    fn out_of_range_is_a_gap_from_the_last_cursor_then_live() {
        let mut state = resumption();
        state.delivered(&event("old.3-0"));
        let refused = with_cursor(Code::OutOfRange, "CURSOR_OTHER_HISTORY", None);
        assert_eq!(
            state.ended(&refused, 0.5),
            Decision::Gap(Gap {
                cursor: "old.3-0".into(),
                reason: "CURSOR_OTHER_HISTORY".into(),
                message: "ended".into(),
            })
        );
        assert_eq!(state.request().resume_after, "", "live after a gap");
    }

    #[test]
    fn backs_off_more_each_time_until_an_event_arrives() {
        let mut state = resumption();
        let lost = Status::unavailable("connection lost");
        let delays: Vec<_> = (0..3).map(|_| state.ended(&lost, 0.0)).collect();
        assert_eq!(
            delays,
            [250, 500, 1000].map(|ms| Decision::Retry(Duration::from_millis(ms)))
        );
        state.delivered(&event("e.1-0"));
        assert_eq!(
            state.ended(&lost, 0.0),
            Decision::Retry(Duration::from_millis(250))
        );
        let mut limited = Resumption::new(SubscribeRequest::default(), Backoff::default(), Some(2));
        assert!(matches!(limited.ended(&lost, 0.0), Decision::Retry(_)));
        assert!(matches!(limited.ended(&lost, 0.0), Decision::Retry(_)));
        assert_eq!(limited.ended(&lost, 0.0), Decision::Fail);
    }

    #[test]
    fn only_what_reconnecting_cures_is_retried() {
        let mut state = resumption();
        for code in [
            Code::Unauthenticated,
            Code::InvalidArgument,
            Code::PermissionDenied,
        ] {
            assert_eq!(state.ended(&Status::new(code, "no"), 0.0), Decision::Fail);
        }
        // UNKNOWN sent by a server is final; made from a broken connection it is not.
        assert_eq!(
            state.ended(&Status::unknown("server said"), 0.0),
            Decision::Fail
        );
        let broken = Status::from_error(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(broken.code(), Code::Unknown);
        assert!(matches!(state.ended(&broken, 0.0), Decision::Retry(_)));
    }
}
