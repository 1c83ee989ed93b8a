//! Signing and delivering webhooks as Telnyx does.
//!
//! Each delivery is `{"data": <event>, "meta": {"attempt", "delivered_to"}}`,
//! signed with Ed25519 over `"{telnyx-timestamp}|{raw body}"`. Deliveries
//! leave one at a time, in the order events happened, so a receiver sees a
//! realistic stream; a non-2xx answer (or none within the timeout) is retried
//! with doubling backoff until the attempts run out or the retry window
//! closes, and [`Dice`] adds duplicates, delays and reordering when asked to.
//! Every delivery, delivered or failed, is recorded (`deliveries`).

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::chaos::{DeliveryPlan, Dice};
use super::clock;
use super::deliveries::{DeliveryRecord, Outcome};
use super::events::Event;
use super::signer::{SIGNATURE_HEADER, Signer, TIMESTAMP_HEADER};
use super::state::{Backlog, World};
use super::timing::Timing;

/// Delivers events to one URL until cancelled.
pub struct Courier {
    pub url: String,
    pub http: reqwest::Client,
    pub signer: Signer,
    pub dice: Arc<Dice>,
    pub timing: Timing,
    /// Where delivery records are kept.
    pub world: Arc<Mutex<World>>,
    pub backlog: Arc<Backlog>,
}

impl Courier {
    /// Delivers events until cancelled; a delivery in flight (or waiting to
    /// be retried) is abandoned at once.
    pub async fn run(self, events: UnboundedReceiver<Event>, cancel: CancellationToken) {
        tokio::select! {
            () = cancel.cancelled() => {}
            () = self.deliver_in_order(events) => {}
        }
    }

    /// Takes events off `events` in order and delivers each, holding one back
    /// for a moment when chaos asks for reordering.
    async fn deliver_in_order(&self, mut events: UnboundedReceiver<Event>) {
        let mut held: Option<(Event, DeliveryPlan)> = None;
        loop {
            let window = self.timing.reorder_window;
            let next = tokio::select! {
                event = events.recv() => event,
                () = tokio::time::sleep(window), if held.is_some() => {
                    if let Some((event, plan)) = held.take() {
                        self.deliver(&event, plan).await;
                    }
                    continue;
                }
            };
            let Some(event) = next else {
                if let Some((event, plan)) = held.take() {
                    self.deliver(&event, plan).await;
                }
                return;
            };
            Backlog::taken(&self.backlog.events);
            let plan = self.dice.delivery();
            if plan.hold_back && held.is_none() {
                held = Some((event, plan));
                continue;
            }
            self.deliver(&event, plan).await;
            if let Some((event, plan)) = held.take() {
                self.deliver(&event, plan).await;
            }
        }
    }

    async fn deliver(&self, event: &Event, plan: DeliveryPlan) {
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        self.send_with_retries(event).await;
        if plan.duplicate {
            self.send_with_retries(event).await;
        }
    }

    async fn send_with_retries(&self, event: &Event) {
        let attempts = self.timing.webhook_attempts.max(1);
        let first = Instant::now();
        let mut record = DeliveryRecord::new(&self.url);
        for attempt in 1..=attempts {
            let reason = match self.send(event, attempt, &mut record).await {
                Ok(()) => return self.keep(record, event, true),
                Err(reason) => reason,
            };
            let wait = self.timing.webhook_backoff * 2u32.saturating_pow(attempt - 1);
            if attempt == attempts || first.elapsed() + wait > self.timing.webhook_retry_window {
                tracing::warn!(event = event.event_type, id = %event.id, %reason, attempt, "webhook given up");
                return self.keep(record, event, false);
            }
            tracing::debug!(event = event.event_type, attempt, %reason, "webhook retry");
            tokio::time::sleep(wait).await;
        }
    }

    fn keep(&self, record: DeliveryRecord, event: &Event, delivered: bool) {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        let record = record.finish(event, delivered, &world.user_id);
        world.record_delivery(record);
    }

    async fn send(
        &self,
        event: &Event,
        attempt: u32,
        record: &mut DeliveryRecord,
    ) -> Result<(), String> {
        let body = json!({
            "data": event.data(),
            "meta": {"attempt": attempt, "delivered_to": self.url},
        });
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let started = SystemTime::now();
        let timestamp = clock::unix_secs(started);
        let signature = self.signer.sign(timestamp, &body);
        let headers = [
            ("Content-Type", "application/json".to_owned()),
            (SIGNATURE_HEADER, signature),
            (TIMESTAMP_HEADER, timestamp.to_string()),
        ];
        let mut request = self
            .http
            .post(&self.url)
            .timeout(self.timing.webhook_timeout);
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                record.attempt(started, &headers, Outcome::Unanswered);
                return Err(error.without_url().to_string());
            }
        };
        let status = response.status();
        let answered: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = match response.bytes().await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) => {
                record.attempt(started, &headers, Outcome::Unanswered);
                return Err(error.without_url().to_string());
            }
        };
        record.attempt(
            started,
            &headers,
            Outcome::Answered {
                status: status.as_u16(),
                headers: answered,
                body,
            },
        );
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("receiver answered {status}"))
        }
    }
}

/// Drops events when no webhook URL is configured, so the outbox never fills.
pub async fn discard(
    mut events: UnboundedReceiver<Event>,
    backlog: Arc<Backlog>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            event = events.recv() => match event {
                Some(_) => Backlog::taken(&backlog.events),
                None => return,
            },
        }
    }
}
