//! Recovery of the events Telnyx gave up on.
//!
//! Telnyx retries a webhook for a limited time (a minute for call events),
//! then records the delivery as failed and lists it under
//! `GET /webhook_deliveries`. When every replica was unreachable, or the bus
//! could not take events, for longer than that, those events never arrived.
//! Recovery asks Telnyx for the deliveries that failed since the newest event
//! the bus accepted (minus [`MARGIN`]; never further back than the lookback)
//! and publishes each delivery's `webhook` through the same dedupe and
//! accept path as a webhook, flagged `Event.recovered`, so each event reaches
//! every subscriber once.
//!
//! It runs when the gateway starts and whenever the bus becomes ready again
//! after it was not (Redis unreachable, then back). Replicas sharing Redis
//! take a lease first, so one replica asks Telnyx for all; the holder renews
//! it while it works, gives it back when done or stopped, and marks how far
//! it recovered. The others wait: once the mark covers their own trigger
//! they are done; if the lease comes free without it (its holder died), one
//! of them takes it and recovers. With the in-process bus the one
//! replica recovers on its own start, once a subscriber is back (or after
//! [`SUBSCRIBER_WAIT`]), since that bus keeps no history across restarts.
//!
//! - [`window`]: how far back a run looks.
//! - [`deliveries`]: the request for a page and what is read from it.

pub mod deliveries;
pub mod window;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use events::{BusError, Converter, EventBus, Published};
use telnyx_client::{CallContext, TelnyxClient, TelnyxError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::webhook::envelope;

/// How far before the newest accepted event a run starts: deliveries that
/// were already being retried then, and clocks (Redis's, Telnyx's) that
/// disagree by up to this much, are covered.
pub const MARGIN: Duration = Duration::from_secs(300);
/// The lease replicas sharing a bus take before they ask Telnyx.
const LEASE: &str = "recovery";
/// How long a lease lasts unless renewed; the holder renews it every third.
const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often a replica waiting for another's run looks at the lease again.
const HOLDER_POLL: Duration = Duration::from_secs(1);
/// A run the holder began at most this long before a waiting replica's own
/// trigger covers that trigger too: the failures it would look for are
/// Telnyx giving up during an outage that ended before both.
const COVERS: Duration = Duration::from_secs(60);
/// How long a stopping replica tries to give its lease back.
const RELEASE_WAIT: Duration = Duration::from_secs(1);
/// How often the bus's readiness is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a failed run waits before it is tried again, doubled each time.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Runs tried before recovery gives up until the next trigger.
const ATTEMPTS: u32 = 5;
/// Deadline of one request for a page, the client's retries included.
const PAGE_DEADLINE: Duration = Duration::from_secs(60);
/// With the in-process bus, how long recovery at start waits for a
/// subscriber to come back, so the recovered events reach it live.
pub const SUBSCRIBER_WAIT: Duration = Duration::from_secs(10);
/// How long a subscriber must have stayed before recovery at start goes on.
const SUBSCRIBER_SETTLE: Duration = Duration::from_millis(500);
/// The operation name in the Telnyx request metrics.
const OPERATION: &str = "RecoverWebhookDeliveries";

/// How recovery is set up.
#[derive(Debug, Clone, Copy)]
pub struct RecoverySettings {
    /// Never look further back than this.
    pub lookback: Duration,
}

/// Why one run failed; it is tried again.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("the event bus: {0}")]
    Bus(#[from] BusError),
    #[error("listing failed webhook deliveries: {0}")]
    Telnyx(#[from] TelnyxError),
    #[error(transparent)]
    Page(#[from] deliveries::NotAPage),
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Failed deliveries listed in the window.
    pub listed: usize,
    /// Events accepted onto the bus: they had not reached it before.
    pub recovered: usize,
    /// Events the bus already had (accepted within the dedupe window).
    pub duplicates: usize,
    /// Deliveries whose `webhook` is not an event (no id or type).
    pub unusable: usize,
}

/// What became of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Another replica holds the lease and recovers for the deployment.
    Skipped,
    Done(Report),
}

/// Recovery for one replica.
#[derive(Debug, Clone)]
pub struct Recovery {
    client: TelnyxClient,
    bus: Arc<dyn EventBus>,
    converter: &'static Converter,
    metrics: Arc<Metrics>,
    settings: RecoverySettings,
    /// This replica's lease holder id: random per process.
    holder: String,
}

impl Recovery {
    pub fn new(
        client: TelnyxClient,
        bus: Arc<dyn EventBus>,
        converter: &'static Converter,
        metrics: Arc<Metrics>,
        settings: RecoverySettings,
    ) -> Self {
        Recovery {
            client,
            bus,
            converter,
            metrics,
            settings,
            holder: format!("{:016x}", fastrand::u64(..)),
        }
    }

    /// Recovers once, if this replica gets the lease.
    pub async fn run_once(&self) -> Result<Outcome, RecoveryError> {
        if !self.bus.lease(LEASE, &self.holder, LEASE_TTL).await? {
            return Ok(Outcome::Skipped);
        }
        let started = SystemTime::now();
        let work = self.recover();
        tokio::pin!(work);
        let result = loop {
            tokio::select! {
                result = &mut work => break result,
                () = tokio::time::sleep(LEASE_TTL / 3) => {
                    match self.bus.lease(LEASE, &self.holder, LEASE_TTL).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("the recovery lease was lost; another replica may recover the same deliveries (deduplicated)"),
                        Err(error) => tracing::warn!(%error, "cannot renew the recovery lease"),
                    }
                }
            }
        };
        if result.is_ok()
            && let Err(error) = self.bus.mark_done(LEASE, started).await
        {
            tracing::warn!(%error, "cannot record that recovery is done; other replicas will recover again (deduplicated)");
        }
        if let Err(error) = self.bus.release(LEASE, &self.holder).await {
            tracing::debug!(%error, "cannot release the recovery lease; it expires by itself");
        }
        result.map(Outcome::Done)
    }

    async fn recover(&self) -> Result<Report, RecoveryError> {
        let last = self.bus.last_accepted().await?;
        let window = window::window(last, SystemTime::now(), MARGIN, self.settings.lookback);
        tracing::info!(
            since = %window::rfc3339(window.since),
            until = %window::rfc3339(window.until),
            "recovering webhook deliveries Telnyx gave up on"
        );
        let mut report = Report::default();
        let first = self.page(&window, 1).await?;
        if first.total_pages > deliveries::MAX_PAGES {
            tracing::warn!(
                pages = first.total_pages,
                "more failed deliveries than one recovery reads; the oldest are left"
            );
        }
        for number in deliveries::later_pages(first.total_pages) {
            let page = self.page(&window, number).await?;
            self.publish(page, &mut report).await?;
        }
        self.publish(first, &mut report).await?;
        Ok(report)
    }

    async fn page(
        &self,
        window: &window::Window,
        number: u32,
    ) -> Result<deliveries::Page, RecoveryError> {
        let call = deliveries::request(window, number);
        let context = CallContext {
            operation: OPERATION,
            idempotent: true,
            deadline: Instant::now() + PAGE_DEADLINE,
            traceparent: None,
        };
        let body = self.client.send(&call, context).await?;
        Ok(deliveries::parse(body)?)
    }

    /// Publishes a page's events, oldest first (pages list newest first).
    async fn publish(
        &self,
        page: deliveries::Page,
        report: &mut Report,
    ) -> Result<(), RecoveryError> {
        report.listed += page.webhooks.len() + page.without_webhook;
        report.unusable += page.without_webhook;
        for webhook in page.webhooks.into_iter().rev() {
            let envelope = match envelope::from_data(webhook) {
                Ok(envelope) => envelope,
                Err(error) => {
                    tracing::warn!(%error, "a failed delivery's webhook is not an event; skipped");
                    report.unusable += 1;
                    continue;
                }
            };
            let id = envelope.id.clone();
            match self
                .bus
                .publish(self.converter.prepare_recovered(envelope))
                .await?
            {
                Published::Accepted(cursor) => {
                    tracing::info!(event.id = %id, %cursor, "event recovered");
                    self.metrics.events_published.inc();
                    self.metrics.events_recovered.inc();
                    report.recovered += 1;
                }
                Published::Duplicate => report.duplicates += 1,
            }
        }
        Ok(())
    }

    /// Whether another replica's finished run covers a trigger at `trigger`.
    async fn covered(&self, trigger: SystemTime) -> bool {
        match self.bus.done_through(LEASE).await {
            Ok(Some(done)) => done + COVERS >= trigger,
            Ok(None) => false,
            Err(error) => {
                tracing::debug!(%error, "cannot read how far recovery was done");
                false
            }
        }
    }

    /// Gives the lease back, if this replica has it, when stopping mid-run.
    async fn give_back(&self) {
        let release = self.bus.release(LEASE, &self.holder);
        if !matches!(
            tokio::time::timeout(RELEASE_WAIT, release).await,
            Ok(Ok(()))
        ) {
            tracing::debug!("cannot release the recovery lease; it expires by itself");
        }
    }

    /// Recovers for a trigger at `trigger`: runs until one succeeds (at most
    /// [`ATTEMPTS`] failures), or until another replica's run covers it.
    async fn run_with_retries(&self, trigger: SystemTime, stop: &CancellationToken) {
        let mut wait = RETRY_AFTER;
        let mut failures = 0;
        let mut waited = false;
        loop {
            // Looked at before taking a lease that came free, since its
            // holder marks how far it got just before it gives it back.
            if waited && self.covered(trigger).await {
                tracing::info!("another replica recovered for this deployment");
                return;
            }
            let outcome = tokio::select! {
                () = stop.cancelled() => {
                    self.give_back().await;
                    return;
                }
                outcome = self.run_once() => outcome,
            };
            let pause = match outcome {
                Ok(Outcome::Skipped) => {
                    if !waited {
                        tracing::info!(
                            "another replica holds the recovery lease; waiting for its run"
                        );
                        waited = true;
                    }
                    HOLDER_POLL
                }
                Ok(Outcome::Done(report)) => {
                    tracing::info!(
                        listed = report.listed,
                        recovered = report.recovered,
                        duplicates = report.duplicates,
                        unusable = report.unusable,
                        "recovery done"
                    );
                    return;
                }
                Err(error) => {
                    failures += 1;
                    if failures >= ATTEMPTS {
                        tracing::error!(%error, "recovery failed; tried again when the bus recovers or the gateway restarts");
                        return;
                    }
                    tracing::warn!(%error, attempt = failures, retry_in_secs = wait.as_secs(), "recovery failed");
                    let pause = wait;
                    wait *= 2;
                    pause
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Recovers at start and whenever the bus becomes ready again, until
    /// `stop`. With an in-process bus, the start's run first waits (up to
    /// [`SUBSCRIBER_WAIT`]) for a subscriber beyond those already there.
    pub async fn watch(self, stop: CancellationToken) {
        if !self.bus.is_shared() {
            // A subscriber that stays: one resuming from a cursor of before
            // the restart registers, is refused and comes back live.
            let present = self.bus.hub().subscriber_count();
            let deadline = Instant::now() + SUBSCRIBER_WAIT;
            let mut back_since: Option<Instant> = None;
            while Instant::now() < deadline
                && back_since.is_none_or(|at| at.elapsed() < SUBSCRIBER_SETTLE)
            {
                if self.bus.hub().subscriber_count() > present {
                    back_since.get_or_insert_with(Instant::now);
                } else {
                    back_since = None;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
        let mut recovered_session = 0;
        loop {
            let session = self.bus.ready_sessions();
            if session != recovered_session && self.bus.is_ready() {
                recovered_session = session;
                self.run_with_retries(SystemTime::now(), &stop).await;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
    }
}
