//! What routes and pages share with the link thread (see `mod.rs`): the command inbox, the
//! pairing state, the running relay, and the backend reachability cache.
//!
//! The pairing state carries a generation. The link bumps it whenever it takes over (a new
//! pairing run, unpair, paired at start-up); a pairing run publishes only under its own
//! generation, so a run that was told to stop while inside an HTTP call can never overwrite
//! what came after it.

use std::sync::Mutex;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::pairing::reachability::Reachability;
use crate::pairing::state::{PairingStatus, PairingView};
use crate::relay::{Relay, RelayStatus};
use crate::sync::LockExt;

/// Commands queued at most; more are refused with 503 until the link catches up.
const INBOX_CAPACITY: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCommand {
    /// `POST /pairing/code`: a new code (when not paired).
    RotateCode,
    /// `DELETE /pairing`: leave the backend and start pairing afresh.
    Unpair,
}

struct Slot {
    generation: u64,
    view: PairingView,
}

pub struct LinkState {
    commands: Sender<LinkCommand>,
    inbox: Mutex<Option<Receiver<LinkCommand>>>,
    slot: Mutex<Slot>,
    relay: Mutex<Option<Relay>>,
    /// The API prefix the backend last answered on, kept across pairing runs.
    learned_prefix: Mutex<Option<String>>,
    pub reachability: Reachability,
}

impl LinkState {
    pub fn new(paired: bool) -> LinkState {
        let (commands, inbox) = bounded(INBOX_CAPACITY);
        let view = if paired {
            PairingView::paired()
        } else {
            PairingView::idle()
        };
        LinkState {
            commands,
            inbox: Mutex::new(Some(inbox)),
            slot: Mutex::new(Slot {
                generation: 0,
                view,
            }),
            relay: Mutex::new(None),
            learned_prefix: Mutex::new(None),
            reachability: Reachability::new(),
        }
    }

    /// Queues a command for the link; false when the queue is full.
    pub fn request(&self, command: LinkCommand) -> bool {
        match self.commands.try_send(command) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// The inbox, for the one link thread.
    pub(crate) fn take_inbox(&self) -> Option<Receiver<LinkCommand>> {
        self.inbox.lock_unpoisoned().take()
    }

    pub fn pairing_view(&self) -> PairingView {
        self.lock_slot().view.clone()
    }

    fn lock_slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock_unpoisoned()
    }

    /// Whether a relay runs and reports itself connected.
    pub fn relay_connected(&self) -> bool {
        self.relay_status().is_some_and(|s| s.connected)
    }

    pub fn relay_status(&self) -> Option<RelayStatus> {
        self.relay.lock_unpoisoned().as_ref().map(Relay::status)
    }

    pub(crate) fn set_relay(&self, relay: Relay) {
        *self.relay.lock_unpoisoned() = Some(relay);
    }

    pub(crate) fn take_relay(&self) -> Option<Relay> {
        self.relay.lock_unpoisoned().take()
    }

    /// The link takes over: shows `view` and returns the new generation.
    pub(crate) fn take_over(&self, view: PairingView) -> u64 {
        let mut slot = self.lock_slot();
        slot.generation += 1;
        slot.view = view;
        slot.generation
    }

    /// A pairing run shows its state; false when it is no longer the current run.
    pub(crate) fn publish(&self, generation: u64, view: &PairingView) -> bool {
        let mut slot = self.lock_slot();
        if slot.generation != generation {
            return false;
        }
        slot.view = view.clone();
        true
    }

    /// A pairing run got its credentials: marks the state paired, if the run is still
    /// current. From here on the link lets the run finish saving them.
    pub(crate) fn claim_paired(&self, generation: u64) -> bool {
        let mut slot = self.lock_slot();
        if slot.generation != generation {
            return false;
        }
        slot.view = PairingView {
            clock_skew: slot.view.clock_skew.take(),
            ..PairingView::paired()
        };
        true
    }

    /// Ends run `generation`'s say over the state: true when it had already claimed
    /// [`LinkState::claim_paired`] (the caller then waits for it to finish saving).
    pub(crate) fn release(&self, generation: u64) -> bool {
        let mut slot = self.lock_slot();
        if slot.generation == generation && slot.view.status == PairingStatus::Paired {
            return true;
        }
        if slot.generation == generation {
            slot.generation += 1;
        }
        false
    }

    pub(crate) fn learned_prefix(&self) -> Option<String> {
        self.learned_prefix.lock_unpoisoned().clone()
    }

    pub(crate) fn learn_prefix(&self, prefix: &str) {
        *self.learned_prefix.lock_unpoisoned() = Some(prefix.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(code: &str) -> PairingView {
        PairingView {
            status: PairingStatus::Waiting,
            code: Some(code.into()),
            ..PairingView::idle()
        }
    }

    #[test]
    fn only_the_current_run_publishes() {
        let state = LinkState::new(false);
        assert_eq!(state.pairing_view().status, PairingStatus::Idle);
        let first = state.take_over(PairingView::idle());
        assert!(state.publish(first, &waiting("AAAAAA")));
        let second = state.take_over(PairingView::idle());
        assert!(!state.publish(first, &waiting("STALE2")));
        assert!(!state.claim_paired(first));
        assert_eq!(state.pairing_view(), PairingView::idle());
        assert!(state.publish(second, &waiting("BBBBBB")));
        assert_eq!(state.pairing_view().code.as_deref(), Some("BBBBBB"));
        assert!(LinkState::new(true).pairing_view().status == PairingStatus::Paired);
    }

    #[test]
    fn release_tells_whether_the_run_had_claimed_its_credentials() {
        let state = LinkState::new(false);
        let run = state.take_over(PairingView::idle());
        assert!(!state.release(run), "not paired: released");
        assert!(
            !state.publish(run, &waiting("AAAAAA")),
            "a released run is silenced"
        );
        let run = state.take_over(PairingView::idle());
        assert!(state.claim_paired(run));
        assert_eq!(state.pairing_view().status, PairingStatus::Paired);
        assert!(state.release(run), "claimed: the caller waits for it");
    }

    #[test]
    fn the_inbox_is_bounded_and_taken_once() {
        let state = LinkState::new(false);
        for _ in 0..INBOX_CAPACITY {
            assert!(state.request(LinkCommand::RotateCode));
        }
        assert!(!state.request(LinkCommand::Unpair));
        let inbox = state.take_inbox().unwrap();
        assert!(state.take_inbox().is_none());
        assert_eq!(inbox.try_recv(), Ok(LinkCommand::RotateCode));
        assert!(state.request(LinkCommand::Unpair));
        assert!(!state.relay_connected());
        assert_eq!(state.learned_prefix(), None);
        state.learn_prefix("/v1");
        assert_eq!(state.learned_prefix().as_deref(), Some("/v1"));
    }
}
