//! Media that starts and ends with a pair of events (playback, speak,
//! streaming, fork, SIPREC), on a call, a conference or one participant.

use api::v1 as pb;

use crate::input::{Input, timestamp};
use crate::stamp::Lww;

/// What starts or ends media, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Started(pb::MediaKind),
    Ended(pb::MediaKind),
}

/// The media step an event type stands for, whatever the subject: the same
/// suffixes serve `call.*`, `conference.*` and `conference.participant.*`.
pub fn step(event_type: &str) -> Option<Step> {
    use pb::MediaKind::{Fork, Playback, Siprec, Speak, Streaming};
    let suffix = event_type
        .strip_prefix("conference.participant.")
        .or_else(|| event_type.strip_prefix("conference."))
        .or_else(|| event_type.strip_prefix("call."))
        .unwrap_or(event_type);
    Some(match suffix {
        "playback.started" => Step::Started(Playback),
        "playback.ended" => Step::Ended(Playback),
        "speak.started" => Step::Started(Speak),
        "speak.ended" => Step::Ended(Speak),
        "streaming.started" => Step::Started(Streaming),
        "streaming.stopped" | "streaming.failed" => Step::Ended(Streaming),
        "fork.started" => Step::Started(Fork),
        "fork.stopped" => Step::Ended(Fork),
        "siprec.started" => Step::Started(Siprec),
        "siprec.stopped" | "siprec.failed" => Step::Ended(Siprec),
        _ => return None,
    })
}

/// One running medium: what plays, since when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Running {
    detail: Box<str>,
    started_at: i64,
}

/// The media of one subject, by kind; only kinds ever seen take room.
#[derive(Debug, Clone, Default)]
pub struct Media(Vec<(pb::MediaKind, Lww<Option<Running>>)>);

impl Media {
    /// Applies a start or an end; returns whether what runs changed.
    pub fn apply(&mut self, step: Step, input: &Input) -> bool {
        let (kind, rank, value) = match step {
            Step::Started(kind) => {
                let detail = ["media_url", "media_name", "stream_url"]
                    .into_iter()
                    .find_map(|key| input.text(key))
                    .unwrap_or_default();
                let Some(at) = input.occurred_at else {
                    return false;
                };
                let running = Running {
                    detail: detail.into(),
                    started_at: at,
                };
                (kind, 0, Some(running))
            }
            Step::Ended(kind) => (kind, 1, None),
        };
        let Some(stamp) = input.stamp(rank) else {
            return false;
        };
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, register)) => register.set(stamp, value),
            None => {
                let changed = value.is_some();
                self.0.push((kind, Lww::new(stamp, value)));
                changed
            }
        }
    }

    /// What runs now, in a fixed order of kinds.
    pub fn active(&self) -> Vec<pb::ActiveMedia> {
        let mut running: Vec<pb::ActiveMedia> = self
            .0
            .iter()
            .filter_map(|(kind, register)| {
                let running = register.get().as_ref()?;
                Some(pb::ActiveMedia {
                    kind: *kind as i32,
                    detail: running.detail.to_string(),
                    started_at: Some(timestamp(running.started_at)),
                })
            })
            .collect();
        running.sort_by_key(|media| media.kind);
        running
    }
}
