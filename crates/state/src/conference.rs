//! One conference: its life, its participants, the floor, its media and
//! recordings, from the `conference.*` events.
//!
//! Each participant's presence is a register written by `joined` and `left`
//! (ranked above), so a `joined` that arrives after its `left` does not seat
//! the call again, while a later re-join does. A conference that ended has
//! nobody in it, whatever participant events are still on their way.

use std::collections::HashMap;
use std::sync::Arc;

use api::v1 as pb;

use crate::input::{Input, timestamp};
use crate::media::{self, Media};
use crate::stamp::{self, Lww};

/// In or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Joined,
    Left,
}

/// One participant.
#[derive(Debug, Clone, Default)]
struct Participant {
    presence: Option<Lww<Presence>>,
    first_joined: Option<i64>,
    muted: Option<Lww<bool>>,
    on_hold: Option<Lww<bool>>,
    role: Option<Lww<pb::SupervisorRole>>,
    whisper: Option<Lww<Vec<Arc<str>>>>,
    media: Media,
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ending {
    at: i64,
    reason: Box<str>,
}

/// A recording Telnyx saved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recording {
    id: Box<str>,
    started_at: Box<str>,
    ended_at: Box<str>,
}

/// Everything the fold keeps about one conference.
#[derive(Debug, Clone, Default)]
pub struct Conference {
    created_at: Option<i64>,
    ending: Option<Lww<Ending>>,
    participants: HashMap<Arc<str>, Participant>,
    floor: Option<Lww<Arc<str>>>,
    media: Media,
    recording: Option<Lww<Recording>>,
    /// The newest `occurred_at` of its events.
    pub last_event: i64,
}

/// Telnyx's supervisor role names.
fn role(name: &str) -> Option<pb::SupervisorRole> {
    Some(match name {
        "none" => pb::SupervisorRole::None,
        "barge" => pb::SupervisorRole::Barge,
        "monitor" => pb::SupervisorRole::Monitor,
        "whisper" => pb::SupervisorRole::Whisper,
        _ => return None,
    })
}

impl Conference {
    /// Applies a `conference.*` event; `call` is its `call_control_id`.
    /// Returns whether the conference changed.
    pub fn apply(&mut self, call: Option<&Arc<str>>, input: &Input, at: i64) -> bool {
        self.last_event = self.last_event.max(at);
        let kind = input.event_type.as_str();
        match kind {
            "conference.created" => stamp::earliest(&mut self.created_at, at),
            "conference.ended" => {
                let ending = Ending {
                    at,
                    reason: input.text("reason").unwrap_or_default().into(),
                };
                // The first end is the end: ranked by time, earliest wins.
                let Some(stamp) = input.stamp(0) else {
                    return false;
                };
                let inverted = stamp::Stamp::new(-stamp.at, stamp.rank, stamp.tie);
                stamp::set(&mut self.ending, inverted, ending)
            }
            "conference.floor.changed" => match (call, input.stamp(0)) {
                (Some(call), Some(stamp)) => stamp::set(&mut self.floor, stamp, Arc::clone(call)),
                _ => false,
            },
            "conference.recording.saved" => {
                let recording = Recording {
                    id: input.text("recording_id").unwrap_or_default().into(),
                    started_at: input
                        .text("recording_started_at")
                        .unwrap_or_default()
                        .into(),
                    ended_at: input.text("recording_ended_at").unwrap_or_default().into(),
                };
                let Some(stamp) = input.stamp(0) else {
                    return false;
                };
                stamp::set(&mut self.recording, stamp, recording)
            }
            _ if kind.starts_with("conference.participant.") => match call {
                Some(call) => self.participant_event(call, input, at),
                None => false,
            },
            _ => match media::step(kind) {
                Some(step) => self.media.apply(step, input),
                None => false,
            },
        }
    }

    fn participant_event(&mut self, call: &Arc<str>, input: &Input, at: i64) -> bool {
        let participant = self.participants.entry(Arc::clone(call)).or_default();
        let mut changed = false;
        match input.event_type.as_str() {
            "conference.participant.joined" => {
                if let Some(stamp) = input.stamp(0) {
                    changed |= stamp::set(&mut participant.presence, stamp, Presence::Joined);
                }
                changed |= stamp::earliest(&mut participant.first_joined, at);
            }
            "conference.participant.left" => {
                if let Some(stamp) = input.stamp(1) {
                    changed |= stamp::set(&mut participant.presence, stamp, Presence::Left);
                }
            }
            kind => {
                if let Some(step) = media::step(kind) {
                    changed |= participant.media.apply(step, input);
                }
            }
        }
        // Telnyx's participant resource names these; no webhook carries them
        // today, but one that does is honoured.
        if let Some(stamp) = input.stamp(0) {
            if let Some(muted) = input.flag("muted") {
                changed |= stamp::set(&mut participant.muted, stamp, muted);
            }
            if let Some(on_hold) = input.flag("on_hold") {
                changed |= stamp::set(&mut participant.on_hold, stamp, on_hold);
            }
            if let Some(role) = input.text("supervisor_role").and_then(role) {
                changed |= stamp::set(&mut participant.role, stamp, role);
            }
            if let Some(targets) = input.texts("whisper_call_control_ids") {
                let targets = targets.into_iter().map(Arc::from).collect();
                changed |= stamp::set(&mut participant.whisper, stamp, targets);
            }
        }
        changed
    }

    /// When it ended, if it did.
    pub fn ended_at(&self) -> Option<i64> {
        self.ending.as_ref().map(|register| register.get().at)
    }

    /// Whether the call is a participant now (joined, not left, not ended).
    pub fn seats(&self, call: &str) -> bool {
        self.ended_at().is_none()
            && self
                .participants
                .get(call)
                .and_then(|p| p.presence.as_ref())
                .is_some_and(|presence| *presence.get() == Presence::Joined)
    }

    /// The conference as the API shows it; `held` says whether a call is on
    /// hold by its own `call.hold` events.
    pub fn render(&self, id: &str, held: impl Fn(&str) -> Option<bool>) -> pb::ConferenceState {
        let ended = self.ending.as_ref().map(Lww::get);
        let mut participants: Vec<(i64, &Arc<str>, &Participant)> = self
            .participants
            .iter()
            .filter(|(_, p)| p.presence.is_some())
            .map(|(call, p)| (p.first_joined.unwrap_or(i64::MAX), call, p))
            .collect();
        participants.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let participants = participants
            .into_iter()
            .map(|(_, call, p)| {
                let presence = p.presence.as_ref().expect("filtered on presence");
                let left_at = match (presence.get(), ended) {
                    (Presence::Left, _) => Some(presence.stamp().at),
                    (Presence::Joined, Some(ending)) => Some(ending.at),
                    (Presence::Joined, None) => None,
                };
                let in_it = left_at.is_none();
                pb::ParticipantState {
                    call_control_id: call.to_string(),
                    status: if in_it {
                        pb::ParticipantStatus::Joined
                    } else {
                        pb::ParticipantStatus::Left
                    } as i32,
                    joined_at: p.first_joined.map(timestamp),
                    left_at: left_at.map(timestamp),
                    muted: p.muted.as_ref().map(|r| *r.get()),
                    on_hold: p.on_hold.as_ref().map(|r| *r.get()).or_else(|| held(call)),
                    supervisor_role: p
                        .role
                        .as_ref()
                        .map_or(pb::SupervisorRole::Unspecified, |r| *r.get())
                        as i32,
                    whisper_call_control_ids: p
                        .whisper
                        .as_ref()
                        .map(|r| r.get().iter().map(|t| t.to_string()).collect())
                        .unwrap_or_default(),
                    media: if in_it { p.media.active() } else { Vec::new() },
                }
            })
            .collect();
        let status = match ended {
            Some(_) => pb::ConferenceStatus::Ended,
            None if self.created_at.is_some() || !self.participants.is_empty() => {
                pb::ConferenceStatus::Active
            }
            None => pb::ConferenceStatus::Unspecified,
        };
        pb::ConferenceState {
            conference_id: id.to_owned(),
            status: status as i32,
            created_at: self.created_at.map(timestamp),
            ended_at: ended.map(|e| timestamp(e.at)),
            end_reason: ended.map(|e| e.reason.to_string()).unwrap_or_default(),
            participants,
            floor_call_control_id: self
                .floor
                .as_ref()
                .filter(|_| ended.is_none())
                .map(|r| r.get().to_string())
                .unwrap_or_default(),
            media: if ended.is_some() {
                Vec::new()
            } else {
                self.media.active()
            },
            recording: self.recording.as_ref().map(|r| {
                let recording = r.get();
                pb::SavedRecording {
                    recording_id: recording.id.to_string(),
                    started_at: parse_rfc3339(&recording.started_at).map(timestamp),
                    ended_at: parse_rfc3339(&recording.ended_at).map(timestamp),
                }
            }),
            ..Default::default()
        }
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC time as Telnyx
/// writes them (`2024-05-01T12:00:00.250Z`, offsets allowed); `None` for
/// anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(['T', 't'])?;
    let mut date = date.splitn(3, '-');
    let year: i64 = date.next()?.parse().ok()?;
    let month: i64 = date.next()?.parse().ok()?;
    let day: i64 = date.next()?.parse().ok()?;
    let (clock, offset_minutes) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let split = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(split);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = offset[1..].split_once(':')?;
        let minutes = hours.parse::<i64>().ok()? * 60 + minutes.parse::<i64>().ok()?;
        (clock, sign * minutes)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = hms.splitn(3, ':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second: i64 = hms.next()?.parse().ok()?;
    let millis: i64 = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
        digits.parse().ok()?
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_telnyx_times() {
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00.250Z"),
            Some(1_714_564_800_250)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-05-01T14:00:00.25+02:00"),
            Some(1_714_564_800_250)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00.250Z"),
            Some(951_782_400_250)
        );
        for bad in ["", "2024-05-01", "2024-13-01T00:00:00Z", "yesterday"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
