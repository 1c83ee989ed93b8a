//! The far end of outbound calls (dial, transfer, refer), chosen by the
//! dialled number so every test and demo gets the same answer every time.
//!
//! The last four digits of the number (of the user part of a SIP URI) decide:
//!
//! | ends in | the far end                      | what the application sees                                  |
//! |---------|----------------------------------|------------------------------------------------------------|
//! | `0486`  | is busy                          | `call.hangup` `user_busy` (SIP 486), never answered         |
//! | `0480`  | never answers                    | `call.hangup` `timeout` (SIP 487) when the ringing is given up |
//! | `0603`  | declines                         | `call.hangup` `call_rejected` (SIP 603)                    |
//! | `0404`  | does not exist                   | `call.hangup` `not_found` (SIP 404)                        |
//! | `0999`  | is an answering machine          | `call.answered`, then machine detection says `machine` and the greeting ends with a beep |
//! | other   | a person answers                 | `call.answered` (machine detection says `human`)           |
//!
//! The SIP code is the one named in the suffix; a refer to such an address
//! fails with it as `sip_notify_response`.

use std::time::Duration;

use super::events::{
    MACHINE_DETECTION_ENDED, MACHINE_GREETING_ENDED, MACHINE_PREMIUM_DETECTION_ENDED,
    MACHINE_PREMIUM_GREETING_ENDED, With,
};
use super::lifecycle::Hangup;
use super::model::CallState;
use super::state::World;

/// What answers an outbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarEnd {
    Person,
    Machine,
    Busy,
    NoAnswer,
    Declines,
    NotFound,
}

/// The answering machine detection settings Telnyx accepts.
pub const AMD: &[&str] = &[
    "premium",
    "detect",
    "detect_beep",
    "detect_words",
    "greeting_end",
    "disabled",
];

impl FarEnd {
    /// The far end of `to`, a +E.164 number or a SIP URI.
    pub fn dialled(to: &str) -> FarEnd {
        let user = to
            .strip_prefix("sips:")
            .or_else(|| to.strip_prefix("sip:"))
            .map_or(to, |uri| uri.split(['@', ';']).next().unwrap_or(uri));
        match user.get(user.len().saturating_sub(4)..).unwrap_or_default() {
            "0486" => FarEnd::Busy,
            "0480" => FarEnd::NoAnswer,
            "0603" => FarEnd::Declines,
            "0404" => FarEnd::NotFound,
            "0999" => FarEnd::Machine,
            _ => FarEnd::Person,
        }
    }

    /// How a call to it ends without an answer; `None` when it answers.
    pub fn refusal(self) -> Option<Hangup> {
        let (cause, source, sip) = match self {
            FarEnd::Person | FarEnd::Machine => return None,
            FarEnd::Busy => ("user_busy", "callee", "486"),
            // Telnyx gives up ringing: the calling side cancels.
            FarEnd::NoAnswer => ("timeout", "caller", "487"),
            FarEnd::Declines => ("call_rejected", "callee", "603"),
            FarEnd::NotFound => ("not_found", "callee", "404"),
        };
        Some(Hangup { cause, source, sip })
    }

    /// The final SIP status a request to it gets (a refer's NOTIFY).
    pub fn sip_status(self) -> u16 {
        match self {
            FarEnd::Person | FarEnd::Machine => 200,
            FarEnd::Busy => 486,
            FarEnd::NoAnswer => 480,
            FarEnd::Declines => 603,
            FarEnd::NotFound => 404,
        }
    }
}

impl World {
    /// Rings the far end of a new outbound leg: a moment later it answers
    /// or refuses; a number that never answers rings until `timeout_secs`
    /// (or the simulator's no-answer timeout, when shorter).
    pub fn ring_far_end(&mut self, id: &str, timeout_secs: Option<i64>) {
        let Some(call) = self.calls.get(id) else {
            return;
        };
        let far_end = FarEnd::dialled(&call.to);
        let id = id.to_owned();
        match far_end.refusal() {
            Some(hangup) => {
                let after = match far_end {
                    FarEnd::NoAnswer => {
                        let asked = Duration::from_secs(timeout_secs.unwrap_or(30).max(0) as u64);
                        asked.min(self.timing.no_answer_timeout)
                    }
                    _ => self.timing.answer_delay,
                };
                self.later(after, move |world| {
                    if world
                        .calls
                        .get(&id)
                        .is_some_and(|c| c.state == CallState::Dialing)
                    {
                        world.hang_up_with(&id, hangup);
                    }
                });
            }
            None => {
                let after = self.timing.answer_delay;
                let machine = far_end == FarEnd::Machine;
                self.later(after, move |world| world.far_end_answers(&id, machine));
            }
        }
    }

    /// The far end picked up: the leg is answered, bridged with the call
    /// that transferred to it, and machine detection runs if asked for.
    fn far_end_answers(&mut self, id: &str, machine: bool) {
        if !self
            .calls
            .get(id)
            .is_some_and(|c| c.state == CallState::Dialing)
        {
            return;
        }
        self.answer(id);
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let (amd, other) = (call.amd, call.bridge_on_answer.take());
        if let Some(other) = other {
            let free = |world: &World, id: &str| {
                world.calls.get(id).is_some_and(|c| {
                    c.state == CallState::Answered
                        && c.bridged_with.is_none()
                        && c.conference_id.is_none()
                })
            };
            if free(self, id) && free(self, &other) {
                self.bridge(&other, id);
            }
        }
        if let Some(amd) = amd.filter(|a| *a != "disabled") {
            let (id, after) = (id.to_owned(), self.timing.answer_delay);
            self.later(after, move |world| world.detect_machine(&id, amd, machine));
        }
    }

    /// Sends the machine detection results, and the end of a machine's
    /// greeting (with its beep) a greeting's length later.
    fn detect_machine(&mut self, id: &str, amd: &'static str, machine: bool) {
        if !self.calls.get(id).is_some_and(|c| c.is_up()) {
            return;
        }
        let premium = amd == "premium";
        let (kind, result) = match (premium, machine) {
            (true, true) => (&MACHINE_PREMIUM_DETECTION_ENDED, "machine"),
            (true, false) => (&MACHINE_PREMIUM_DETECTION_ENDED, "human_residence"),
            (false, true) => (&MACHINE_DETECTION_ENDED, "machine"),
            (false, false) => (&MACHINE_DETECTION_ENDED, "human"),
        };
        let context = self.call_context(id).with("result", result);
        self.emit(kind, &context);
        if !machine || amd == "detect" {
            return;
        }
        let greeting = if premium {
            &MACHINE_PREMIUM_GREETING_ENDED
        } else {
            &MACHINE_GREETING_ENDED
        };
        let (id, after) = (id.to_owned(), self.timing.media_duration);
        self.later(after, move |world| {
            if world.calls.get(&id).is_some_and(|c| c.is_up()) {
                let context = world.call_context(&id).with("result", "beep_detected");
                world.emit(greeting, &context);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_digits_choose_the_far_end() {
        assert_eq!(FarEnd::dialled("+15551230001"), FarEnd::Person);
        assert_eq!(FarEnd::dialled("+15551230486"), FarEnd::Busy);
        assert_eq!(FarEnd::dialled("+15551230480"), FarEnd::NoAnswer);
        assert_eq!(FarEnd::dialled("+15551230603"), FarEnd::Declines);
        assert_eq!(FarEnd::dialled("+15551230404"), FarEnd::NotFound);
        assert_eq!(FarEnd::dialled("+15551230999"), FarEnd::Machine);
        assert_eq!(FarEnd::dialled("sip:0486@example.com"), FarEnd::Busy);
        assert_eq!(
            FarEnd::dialled("sips:agent@example.com;transport=tls"),
            FarEnd::Person
        );
        assert_eq!(FarEnd::dialled("sip:x"), FarEnd::Person);
        assert_eq!(FarEnd::Busy.refusal().map(|h| h.sip), Some("486"));
        assert_eq!(FarEnd::Machine.refusal(), None);
    }
}
