//! Transfer rate limits (bandwidth), changeable while transfers run.
//!
//! A [`Limit`] is one direction's limit of one scope: the daemon holds the
//! global upload and download limits (shared by every synchronization's
//! transfers together) and each worker its synchronization's own
//! ([`Limits`]). A transfer obeys both: [`Throttle`] names the limits of
//! one direction, [`Pacer`] spends one transfer's bytes against them.
//!
//! The limiter is governor's GCRA (a direct `RateLimiter`), one cell per
//! KiB: its quota is a rate and a burst, and it cannot be changed, so a
//! new limit replaces the limiter ([`Limit::set`]). A pacer looks the
//! limiter up again before every step, and a step waits for at most a
//! tenth of a second's worth of bytes (never more than one 1 MiB block),
//! so a changed limit applies to transfers in flight within a tenth of a
//! second of their next step.
//!
//! With no limit set, a transfer pays one relaxed atomic read per limit
//! and block ([`Pacer::limited`]): no lock, no await.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::{Bandwidth, RateLimit};

/// Bytes per governor cell.
const CELL: usize = 1024;
/// The largest burst, in cells: one 1 MiB block (an upload's read size,
/// a download's hand-over size).
const MAX_BURST_CELLS: u32 = 1024;

/// One direction's limit of one scope (global, or one synchronization).
#[derive(Debug, Default)]
pub struct Limit {
    /// A limit is set: the fast path's only read.
    on: AtomicBool,
    bucket: RwLock<Option<Arc<Bucket>>>,
}

struct Bucket {
    limiter: governor::DefaultDirectRateLimiter,
    /// The most cells one wait asks for.
    burst: NonZeroU32,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("burst", &self.burst)
            .finish()
    }
}

impl Limit {
    pub fn new(rate: Option<RateLimit>) -> Limit {
        let limit = Limit::default();
        limit.set(rate);
        limit
    }

    /// Replace the limit (`None`: none). Transfers in flight take the new
    /// one at their next step.
    pub fn set(&self, rate: Option<RateLimit>) {
        let bucket = rate.map(|r| Arc::new(Bucket::new(r)));
        let on = bucket.is_some();
        if let Ok(mut b) = self.bucket.write() {
            *b = bucket;
        }
        self.on.store(on, Ordering::Release);
    }

    #[inline]
    fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    fn bucket(&self) -> Option<Arc<Bucket>> {
        self.bucket.read().ok().and_then(|b| b.clone())
    }
}

impl Bucket {
    fn new(rate: RateLimit) -> Bucket {
        let per_sec = NonZeroU32::new(rate.kib_per_sec()).unwrap_or(NonZeroU32::MIN);
        // A tenth of a second's worth: smooth, and a change is felt soon.
        let burst = NonZeroU32::new((per_sec.get() / 10).clamp(1, MAX_BURST_CELLS))
            .unwrap_or(NonZeroU32::MIN);
        Bucket {
            limiter: governor::RateLimiter::direct(
                governor::Quota::per_second(per_sec).allow_burst(burst),
            ),
            burst,
        }
    }
}

/// Both directions' limits of one scope.
#[derive(Debug, Default)]
pub struct Limits {
    pub up: Arc<Limit>,
    pub down: Arc<Limit>,
}

impl Limits {
    pub fn new(b: &Bandwidth) -> Limits {
        Limits {
            up: Arc::new(Limit::new(b.upload_kib_per_sec)),
            down: Arc::new(Limit::new(b.download_kib_per_sec)),
        }
    }

    /// Take new limits (both directions).
    pub fn set(&self, b: &Bandwidth) {
        self.up.set(b.upload_kib_per_sec);
        self.down.set(b.download_kib_per_sec);
    }

    /// What a remote of a synchronization with limits `own` obeys, the
    /// global `shared` ones too.
    pub fn throttles(own: &Limits, shared: &Limits) -> Throttles {
        Throttles {
            up: Throttle(vec![own.up.clone(), shared.up.clone()]),
            down: Throttle(vec![own.down.clone(), shared.down.clone()]),
        }
    }
}

/// The limits one direction's transfers obey (none: unlimited).
#[derive(Clone, Debug, Default)]
pub struct Throttle(Vec<Arc<Limit>>);

impl Throttle {
    /// One transfer's pacer.
    pub fn pacer(&self) -> Pacer {
        Pacer {
            limits: self.0.clone(),
            owed: 0,
        }
    }
}

/// Upload and download throttles of one remote.
#[derive(Clone, Debug, Default)]
pub struct Throttles {
    pub up: Throttle,
    pub down: Throttle,
}

/// One transfer's bytes spent against its limits.
#[derive(Debug)]
pub struct Pacer {
    limits: Vec<Arc<Limit>>,
    /// Bytes let through not yet charged (less than a cell).
    owed: usize,
}

impl Pacer {
    /// Whether any limit is set now: one atomic read per limit.
    #[inline]
    pub fn limited(&self) -> bool {
        self.limits.iter().any(|l| l.is_on())
    }

    /// The most bytes to let through at once: a step of the smallest
    /// burst (`usize::MAX` with no limit).
    pub fn piece(&self) -> usize {
        self.limits
            .iter()
            .filter(|l| l.is_on())
            .filter_map(|l| l.bucket())
            .map(|b| b.burst.get() as usize * CELL)
            .min()
            .unwrap_or(usize::MAX)
    }

    /// Wait until `bytes` more may go through every limit set (at once
    /// with none). Each step looks the limits up again: a limit raised,
    /// lowered or removed meanwhile applies from the next step.
    pub async fn pass(&mut self, bytes: usize) {
        self.owed += bytes;
        let mut cells = self.owed / CELL;
        self.owed %= CELL;
        while cells > 0 {
            let buckets: Vec<Arc<Bucket>> = self
                .limits
                .iter()
                .filter(|l| l.is_on())
                .filter_map(|l| l.bucket())
                .collect();
            let Some(step) = buckets.iter().map(|b| b.burst.get() as usize).min() else {
                return;
            };
            let step = step.min(cells);
            let n = NonZeroU32::new(step as u32).unwrap_or(NonZeroU32::MIN);
            for b in &buckets {
                // `n` is at most every bucket's burst: never refused.
                let _ = b.limiter.until_n_ready(n).await;
            }
            cells -= step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn rate(kib: i64) -> Option<RateLimit> {
        Some(RateLimit::new(kib).unwrap())
    }

    fn throttle(limits: &[&Arc<Limit>]) -> Throttle {
        Throttle(limits.iter().map(|&l| l.clone()).collect())
    }

    /// Time to let `total` bytes through in pieces as an upload would.
    async fn send(pacer: &mut Pacer, total: usize) -> Duration {
        let start = Instant::now();
        let mut left = total;
        while left > 0 {
            let n = pacer.piece().min(left).min(1024 * 1024);
            pacer.pass(n).await;
            left -= n;
        }
        start.elapsed()
    }

    #[test]
    fn with_no_limit_a_pacer_is_not_limited_and_lets_everything_through_at_once() {
        let own = Arc::new(Limit::new(None));
        let global = Arc::new(Limit::new(None));
        let pacer = throttle(&[&own, &global]).pacer();
        assert!(!pacer.limited());
        assert_eq!(pacer.piece(), usize::MAX);
        assert!(!Throttle::default().pacer().limited());
    }

    #[test]
    fn a_burst_is_a_tenth_of_a_second_and_never_more_than_a_block() {
        let limit = Limit::new(rate(1000));
        assert_eq!(throttle(&[&Arc::new(limit)]).pacer().piece(), 100 * 1024);
        let fast = Limit::new(rate(100 * 1024));
        assert_eq!(throttle(&[&Arc::new(fast)]).pacer().piece(), 1024 * 1024);
        let slow = Limit::new(rate(1));
        assert_eq!(throttle(&[&Arc::new(slow)]).pacer().piece(), 1024);
    }

    #[tokio::test]
    async fn bytes_go_no_faster_than_the_limit() {
        // 1 MiB at 512 KiB/s: the first burst (51 KiB) at once, the rest
        // at the rate.
        let limit = Arc::new(Limit::new(rate(512)));
        let took = send(&mut throttle(&[&limit]).pacer(), 1024 * 1024).await;
        let floor = Duration::from_secs_f64((1024.0 - 51.0) / 512.0);
        assert!(took >= floor, "{took:?} < {floor:?}");
    }

    #[tokio::test]
    async fn the_smaller_of_two_limits_applies() {
        let own = Arc::new(Limit::new(rate(4096)));
        let global = Arc::new(Limit::new(rate(256)));
        let took = send(&mut throttle(&[&own, &global]).pacer(), 512 * 1024).await;
        let floor = Duration::from_secs_f64((512.0 - 25.0) / 256.0);
        assert!(took >= floor, "{took:?} < {floor:?}");
    }

    #[tokio::test]
    async fn a_shared_limit_is_shared_by_transfers_together() {
        // Two transfers of 256 KiB each through one 256 KiB/s limit: the
        // pair takes as long as 512 KiB alone.
        let global = Arc::new(Limit::new(rate(256)));
        let t = throttle(&[&global]);
        let (mut a, mut b) = (t.pacer(), t.pacer());
        let start = Instant::now();
        tokio::join!(send(&mut a, 256 * 1024), send(&mut b, 256 * 1024));
        let took = start.elapsed();
        let floor = Duration::from_secs_f64((512.0 - 25.0) / 256.0);
        assert!(took >= floor, "{took:?} < {floor:?}");
    }

    #[tokio::test]
    async fn a_limit_removed_in_flight_lets_the_rest_through_at_once() {
        // At 2 KiB/s, 1 MiB would take over 8 minutes.
        let limit = Arc::new(Limit::new(rate(2)));
        let mut pacer = throttle(&[&limit]).pacer();
        let lifted = {
            let limit = limit.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                limit.set(None);
            }
        };
        let (took, ()) = tokio::join!(send(&mut pacer, 1024 * 1024), lifted);
        assert!(took < Duration::from_secs(60), "{took:?}");
        assert!(!pacer.limited());
    }

    #[tokio::test]
    async fn a_limit_set_in_flight_applies_to_the_rest() {
        let limit = Arc::new(Limit::new(None));
        let mut pacer = throttle(&[&limit]).pacer();
        assert!(send(&mut pacer, 64 * 1024 * 1024).await < Duration::from_secs(1));
        limit.set(rate(256));
        assert!(pacer.limited());
        let took = send(&mut pacer, 512 * 1024).await;
        let floor = Duration::from_secs_f64((512.0 - 25.0) / 256.0);
        assert!(took >= floor, "{took:?} < {floor:?}");
    }

    #[tokio::test]
    async fn bytes_short_of_a_cell_are_carried_to_the_next_step() {
        // 4,096 sends of 100 bytes at 100 KiB/s (10 KiB bursts): 400 KiB,
        // which takes ~3.9 s; dropping what is short of a cell would let
        // them all through at once.
        let limit = Arc::new(Limit::new(rate(100)));
        let mut pacer = throttle(&[&limit]).pacer();
        let start = Instant::now();
        for _ in 0..4096 {
            pacer.pass(100).await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs_f64((400.0 - 10.0) / 100.0),
            "{took:?}"
        );
    }
}
