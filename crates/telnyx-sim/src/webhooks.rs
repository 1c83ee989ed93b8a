//! Signing and delivering webhooks as Telnyx does.
//!
//! Each delivery is `{"data": <event>, "meta": {"attempt", "delivered_to"}}`,
//! signed with Ed25519 over `"{telnyx-timestamp}|{raw body}"`. Deliveries
//! leave one at a time, in the order events happened, so a receiver sees a
//! realistic stream; a non-2xx answer (or none within the timeout) is retried
//! with doubling backoff, and [`Dice`] adds duplicates, delays and reordering
//! when asked to.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::chaos::{DeliveryPlan, Dice};
use super::clock;
use super::events::Event;
use super::signer::{SIGNATURE_HEADER, Signer, TIMESTAMP_HEADER};
use super::timing::Timing;

/// Delivers events to one URL until cancelled.
pub struct Courier {
    pub url: String,
    pub http: reqwest::Client,
    pub signer: Signer,
    pub dice: Arc<Dice>,
    pub timing: Timing,
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
        for attempt in 1..=attempts {
            match self.send(event, attempt).await {
                Ok(()) => return,
                Err(reason) if attempt < attempts => {
                    let wait = self.timing.webhook_backoff * 2u32.saturating_pow(attempt - 1);
                    tracing::debug!(event = event.event_type, attempt, %reason, "webhook retry");
                    tokio::time::sleep(wait).await;
                }
                Err(reason) => {
                    tracing::warn!(event = event.event_type, id = %event.id, %reason, "webhook dropped after {attempts} attempts");
                }
            }
        }
    }

    async fn send(&self, event: &Event, attempt: u32) -> Result<(), String> {
        let body = json!({
            "data": event.data(),
            "meta": {"attempt": attempt, "delivered_to": self.url},
        });
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let timestamp = clock::unix_secs(SystemTime::now());
        let signature = self.signer.sign(timestamp, &body);
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .timeout(self.timing.webhook_timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("receiver answered {}", response.status()))
        }
    }
}

/// Drops events when no webhook URL is configured, so the outbox never fills.
pub async fn discard(mut events: UnboundedReceiver<Event>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            event = events.recv() => if event.is_none() { return },
        }
    }
}
