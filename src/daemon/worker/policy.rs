//! When a worker runs its next pass: settling, the remote poll, the
//! periodic full pass, the schedule, and the backoff after a failure.
//!
//! Pure: every function takes the time (`now`) and, for a retry, the
//! jitter factor it is given — no clock, no randomness — so the rules are
//! tested as plain functions, and the loop that applies them (in
//! [`super`]) with tokio's paused time.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::SyncConfig;

/// How long file-system events must settle before a pass starts.
pub const SETTLE: Duration = Duration::from_millis(300);
/// The first retry after a failure; doubled each time, up to `MAX_BACKOFF`.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The factors a retry's delay is multiplied by (±25 %), so that many
/// synchronizations do not retry in step.
pub const JITTER: std::ops::Range<f64> = 0.75..1.25;
/// How often a synchronization whose folder is missing looks for it.
pub const ARM_EVERY: Duration = Duration::from_secs(1);
/// More watched paths than this: a full pass instead of a scoped one.
pub const SCOPE_MAX: usize = 1000;

/// A synchronization's timing, from its settings (with their lower bounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Watched and polled (else only the schedule and the user run passes).
    pub live: bool,
    /// How often the remote is polled (live).
    pub poll: Duration,
    /// How often a full pass runs anyway (live).
    pub full: Duration,
    /// How often a pass runs when not live.
    pub schedule: Option<Duration>,
}

impl Timing {
    pub fn of(cfg: &SyncConfig) -> Timing {
        Timing {
            live: cfg.live,
            poll: Duration::from_secs(cfg.poll_interval_secs.max(1)),
            full: Duration::from_secs(cfg.full_scan_interval_secs.max(60)),
            schedule: cfg.schedule_secs.map(|s| Duration::from_secs(s.max(1))),
        }
    }

    /// Whether the worker starts with a pass: live and scheduled
    /// synchronizations do.
    pub fn starts_with_pass(&self) -> bool {
        self.live || self.schedule.is_some()
    }

    /// The first timed wake-ups of a worker started at `now`.
    pub fn first(&self, now: Instant) -> Deadlines {
        Deadlines {
            poll: self.live.then(|| now + self.poll),
            full: self.live.then(|| now + self.full),
            schedule: match self.schedule {
                Some(s) if !self.live => Some(now + s),
                _ => None,
            },
        }
    }
}

/// When the timed wake-ups come next; `None`: never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    pub poll: Option<Instant>,
    pub full: Option<Instant>,
    pub schedule: Option<Instant>,
}

/// The delay before retry number `failures + 1`: `FIRST_BACKOFF` doubled
/// per earlier failure, at most `MAX_BACKOFF`, times `jitter` (a factor
/// drawn from [`JITTER`]).
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(1 << failures.min(10));
    let base = exp.min(MAX_BACKOFF);
    base.mul_f64(jitter)
}

/// How the worker stands between passes.
#[derive(Debug, Default)]
pub struct Mode {
    pub paused: bool,
    /// A guard stopped the last pass: wait for confirm or cancel.
    pub confirming: bool,
    /// The server refused the credentials: wait for the user.
    pub blocked: bool,
    /// After a failure: not before this.
    pub retry_at: Option<Instant>,
    pub failures: u32,
    pub stopping: bool,
}

impl Mode {
    /// Whether a wanted pass may run at `now`: "sync now" (`once`) always;
    /// otherwise not while paused, waiting for a confirmation or for
    /// credentials, or before a retry is due.
    pub fn may_run(&self, once: bool, now: Instant) -> bool {
        once || (!self.paused
            && !self.confirming
            && !self.blocked
            && self.retry_at.is_none_or(|t| t <= now))
    }

    /// When the backoff ends, if the loop is to wake up for it: only while
    /// a pass is wanted and the worker is not paused.
    pub fn retry_wake(&self, wanted: bool) -> Option<Instant> {
        match self.retry_at {
            Some(t) if wanted && !self.paused => Some(t),
            _ => None,
        }
    }

    /// A pass failed at `now`: schedule the retry; the delay.
    pub fn failed(&mut self, now: Instant, jitter: f64) -> Duration {
        let delay = backoff(self.failures, jitter);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + delay);
        delay
    }

    /// A pass completed: the backoff starts over.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }
}

/// Whether the next pass is full rather than scoped to the watched paths:
/// when something asked for a full one (`dirty`) or too many paths changed.
pub fn full_pass(dirty: bool, paths: usize) -> bool {
    dirty || paths > SCOPE_MAX
}

/// A remote poll that wants a pass without asking the remote: watching is
/// impossible (`degraded`) or incomplete (a folder `missing`), or a retry
/// is pending.
pub fn poll_blind(degraded: bool, missing: bool, retrying: bool) -> bool {
    degraded || missing || retrying
}

/// Whether a remote poll wants a pass, from the remote's cheap fingerprint
/// (`Ok(None)`: it has none; `Err`: it could not be read — a pass finds
/// out and reports what is wrong), the fingerprint of the last complete
/// full pass, and whether a watch covers the remote (a folder remote).
pub fn poll_wants_pass(now: Result<Option<&str>, ()>, last: Option<&str>, watched: bool) -> bool {
    match now {
        Ok(Some(fp)) => last != Some(fp),
        // No cheap check: list (unless a watcher covers it).
        Ok(None) => !watched,
        Err(()) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(live: bool, schedule: Option<u64>) -> SyncConfig {
        let mut value = serde_json::json!({
            "id": "s", "name": "s", "local": "/l",
            "remote": {"type": "folder", "path": "/r"},
            "live": live, "poll_interval_secs": 0, "full_scan_interval_secs": 5,
        });
        if let Some(s) = schedule {
            value["schedule_secs"] = s.into();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_backoff_doubles_from_two_seconds_up_to_five_minutes() {
        let secs: Vec<u64> = (0..12).map(|f| backoff(f, 1.0).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX, 1.0), MAX_BACKOFF);
    }

    #[test]
    fn the_jitter_scales_the_backoff_by_a_quarter_either_way() {
        assert_eq!(backoff(0, JITTER.start), Duration::from_millis(1500));
        assert_eq!(backoff(0, 1.2), Duration::from_millis(2400));
        assert_eq!(backoff(20, JITTER.start), Duration::from_secs(225));
    }

    #[test]
    fn each_failure_pushes_the_retry_further_and_a_success_starts_over() {
        let now = Instant::now();
        let mut mode = Mode::default();
        assert_eq!(mode.failed(now, 1.0), Duration::from_secs(2));
        assert_eq!(mode.retry_at, Some(now + Duration::from_secs(2)));
        assert_eq!(mode.failed(now, 1.0), Duration::from_secs(4));
        assert_eq!(mode.failures, 2);
        mode.succeeded();
        assert_eq!((mode.failures, mode.retry_at), (0, None));
        assert_eq!(mode.failed(now, 1.0), Duration::from_secs(2));
    }

    #[test]
    fn a_pass_waits_for_the_retry_unless_the_user_asks_for_it() {
        let now = Instant::now();
        let mut mode = Mode::default();
        assert!(mode.may_run(false, now));
        mode.failed(now, 1.0);
        assert!(!mode.may_run(false, now));
        assert!(!mode.may_run(false, now + Duration::from_millis(1999)));
        assert!(mode.may_run(false, now + Duration::from_secs(2)));
        assert!(mode.may_run(true, now), "sync now runs at once");
    }

    #[test]
    fn paused_confirming_or_blocked_runs_only_what_the_user_asks_for() {
        let now = Instant::now();
        for mode in [
            Mode {
                paused: true,
                ..Mode::default()
            },
            Mode {
                confirming: true,
                ..Mode::default()
            },
            Mode {
                blocked: true,
                ..Mode::default()
            },
        ] {
            assert!(!mode.may_run(false, now), "{mode:?}");
            assert!(mode.may_run(true, now), "{mode:?}");
        }
    }

    #[test]
    fn the_retry_wakes_the_loop_only_when_a_pass_is_wanted_and_not_paused() {
        let now = Instant::now();
        let mut mode = Mode::default();
        assert_eq!(mode.retry_wake(true), None);
        mode.failed(now, 1.0);
        let due = now + Duration::from_secs(2);
        assert_eq!(mode.retry_wake(true), Some(due));
        assert_eq!(mode.retry_wake(false), None);
        mode.paused = true;
        assert_eq!(mode.retry_wake(true), None);
    }

    #[test]
    fn a_live_synchronization_polls_and_runs_full_passes_but_has_no_schedule() {
        let now = Instant::now();
        let timing = Timing::of(&cfg(true, Some(30)));
        // The lower bounds: a poll a second at most, a full pass a minute.
        assert_eq!(timing.poll, Duration::from_secs(1));
        assert_eq!(timing.full, Duration::from_secs(60));
        assert!(timing.starts_with_pass());
        assert_eq!(
            timing.first(now),
            Deadlines {
                poll: Some(now + Duration::from_secs(1)),
                full: Some(now + Duration::from_secs(60)),
                schedule: None,
            }
        );
    }

    #[test]
    fn a_scheduled_synchronization_only_follows_its_schedule() {
        let now = Instant::now();
        let timing = Timing::of(&cfg(false, Some(0)));
        assert!(timing.starts_with_pass());
        assert_eq!(
            timing.first(now),
            Deadlines {
                poll: None,
                full: None,
                schedule: Some(now + Duration::from_secs(1)),
            }
        );
        let manual = Timing::of(&cfg(false, None));
        assert!(!manual.starts_with_pass());
        assert_eq!(
            manual.first(now),
            Deadlines {
                poll: None,
                full: None,
                schedule: None,
            }
        );
    }

    #[test]
    fn watched_paths_make_a_scoped_pass_until_there_are_too_many() {
        assert!(!full_pass(false, 1));
        assert!(!full_pass(false, SCOPE_MAX));
        assert!(full_pass(false, SCOPE_MAX + 1));
        assert!(full_pass(true, 0));
    }

    #[test]
    fn a_poll_wants_a_pass_when_the_fingerprint_moved_or_cannot_tell() {
        assert!(!poll_wants_pass(Ok(Some("a")), Some("a"), false));
        assert!(poll_wants_pass(Ok(Some("b")), Some("a"), false));
        assert!(poll_wants_pass(Ok(Some("a")), None, true));
        assert!(poll_wants_pass(Ok(None), None, false));
        assert!(!poll_wants_pass(Ok(None), None, true));
        assert!(poll_wants_pass(Err(()), Some("a"), true));
        assert!(poll_blind(true, false, false));
        assert!(poll_blind(false, true, false));
        assert!(poll_blind(false, false, true));
        assert!(!poll_blind(false, false, false));
    }
}
