//! When to show a desktop notification, and what it says: a pure policy
//! (time is passed in) between what happened and the notifications sent.
//!
//! Only what needs the user is notified: credentials required, a guard
//! waiting for confirmation, new conflicts, a synchronization in error —
//! each category switchable. Notices are **aggregated** (the ones that
//! arrive within [`Limits::gather`] of the first become one notification:
//! "12 conflicts", not 12 pop-ups) and **rate-limited** (at most one
//! notification per category every [`Limits::min_interval`]; what arrives
//! meanwhile waits and is sent, aggregated, when the interval is over). A
//! state that stays (the same synchronization still in error after a retry)
//! is notified once, until [`Policy::clear`] says it ended.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Credentials,
    Confirmation,
    Conflicts,
    Error,
}

/// Which categories are shown (the settings' switches; all on by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switches {
    pub credentials: bool,
    pub confirmation: bool,
    pub conflicts: bool,
    pub errors: bool,
}

impl Default for Switches {
    fn default() -> Switches {
        Switches {
            credentials: true,
            confirmation: true,
            conflicts: true,
            errors: true,
        }
    }
}

impl Switches {
    fn allows(&self, c: Category) -> bool {
        match c {
            Category::Credentials => self.credentials,
            Category::Confirmation => self.confirmation,
            Category::Conflicts => self.conflicts,
            Category::Error => self.errors,
        }
    }
}

/// The timing of aggregation and rate limiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long after the first notice of a burst the notification waits
    /// for more.
    pub gather: Duration,
    /// The least time between two notifications of one category.
    pub min_interval: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            gather: Duration::from_secs(2),
            min_interval: Duration::from_secs(60),
        }
    }
}

/// Something that happened that may need the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub category: Category,
    /// The synchronization's name.
    pub sync: String,
    /// What it is about: the server for credentials, the reason for a
    /// confirmation or an error, the file for a conflict.
    pub detail: String,
}

/// A notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub category: Category,
    pub summary: String,
    pub body: String,
}

/// The policy's state.
#[derive(Debug)]
pub struct Policy {
    switches: Switches,
    limits: Limits,
    /// Notices waiting, per category, with when the first one came.
    pending: BTreeMap<Category, (Instant, Vec<Notice>)>,
    last_sent: BTreeMap<Category, Instant>,
    /// (category, sync, detail) already notified and not cleared
    /// (conflicts are never cleared: each one is new once).
    notified: BTreeSet<(Category, String, String)>,
}

impl Policy {
    pub fn new(switches: Switches, limits: Limits) -> Policy {
        Policy {
            switches,
            limits,
            pending: BTreeMap::new(),
            last_sent: BTreeMap::new(),
            notified: BTreeSet::new(),
        }
    }

    /// New switches (from the settings); what waits in a category turned
    /// off is dropped.
    pub fn set_switches(&mut self, switches: Switches) {
        self.switches = switches;
        self.pending.retain(|c, _| switches.allows(*c));
    }

    /// Something happened at `now`.
    pub fn observe(&mut self, notice: Notice, now: Instant) {
        if !self.switches.allows(notice.category) {
            return;
        }
        let key = key_of(&notice);
        if !self.notified.insert(key) {
            return;
        }
        self.pending
            .entry(notice.category)
            .or_insert_with(|| (now, Vec::new()))
            .1
            .push(notice);
    }

    /// The state behind notices of `category` for `sync` ended (the
    /// credentials were given, the error went away): a new one will be
    /// notified again. Waiting notices for it are dropped.
    pub fn clear(&mut self, category: Category, sync: &str) {
        self.notified
            .retain(|(c, s, _)| !(*c == category && s == sync));
        if let Some((_, list)) = self.pending.get_mut(&category) {
            list.retain(|n| n.sync != sync);
            if list.is_empty() {
                self.pending.remove(&category);
            }
        }
    }

    /// When the next notification is due (for the caller's timer).
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.keys().map(|c| self.due_at(*c)).min()
    }

    fn due_at(&self, c: Category) -> Instant {
        let gathered = self.pending[&c].0 + self.limits.gather;
        match self.last_sent.get(&c) {
            Some(last) => gathered.max(*last + self.limits.min_interval),
            None => gathered,
        }
    }

    /// The notifications to show at `now` (one per category at most).
    pub fn due(&mut self, now: Instant) -> Vec<Notification> {
        let ready: Vec<Category> = self
            .pending
            .keys()
            .copied()
            .filter(|c| self.due_at(*c) <= now)
            .collect();
        ready
            .into_iter()
            .filter_map(|c| {
                let (_, notices) = self.pending.remove(&c)?;
                self.last_sent.insert(c, now);
                Some(summarize(c, &notices))
            })
            .collect()
    }
}

fn key_of(n: &Notice) -> (Category, String, String) {
    // A state is notified once per synchronization whatever its detail
    // (an error's reason may change between retries); each conflict once.
    let detail = if n.category == Category::Conflicts {
        n.detail.clone()
    } else {
        String::new()
    };
    (n.category, n.sync.clone(), detail)
}

/// One notification for notices of one category.
fn summarize(c: Category, notices: &[Notice]) -> Notification {
    let syncs: BTreeSet<&str> = notices.iter().map(|n| n.sync.as_str()).collect();
    let names = syncs.iter().copied().collect::<Vec<_>>().join(", ");
    let n = notices.len();
    let (summary, body) = match (c, notices) {
        (Category::Credentials, [one]) => (
            format!("Password needed for {}", one.detail),
            format!("{} waits until you sign in again.", one.sync),
        ),
        (Category::Credentials, _) => (
            format!("Passwords needed for {n} synchronizations"),
            format!("{names} wait until you sign in again."),
        ),
        (Category::Confirmation, [one]) => (
            format!("{} waits for your confirmation", one.sync),
            one.detail.clone(),
        ),
        (Category::Confirmation, _) => (
            format!("{n} synchronizations wait for your confirmation"),
            names,
        ),
        (Category::Conflicts, [one]) => (
            format!("A conflict in {}", one.sync),
            format!("{}: both versions were kept.", one.detail),
        ),
        (Category::Conflicts, _) => (
            format!("{n} conflicts"),
            format!("In {names}: both versions of each file were kept."),
        ),
        (Category::Error, [one]) => (
            format!("{} stopped with an error", one.sync),
            one.detail.clone(),
        ),
        (Category::Error, _) => (format!("{n} synchronizations stopped with an error"), names),
    };
    Notification {
        category: c,
        summary,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(category: Category, sync: &str, detail: &str) -> Notice {
        Notice {
            category,
            sync: sync.into(),
            detail: detail.into(),
        }
    }

    fn policy() -> Policy {
        Policy::new(Switches::default(), Limits::default())
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_burst_of_conflicts_becomes_one_notification() {
        let t0 = Instant::now();
        let mut p = policy();
        for i in 0..12 {
            p.observe(
                notice(Category::Conflicts, "Docs", &format!("f{i}.txt")),
                t0 + Duration::from_millis(100 * i),
            );
        }
        assert!(p.due(t0 + S).is_empty(), "still gathering");
        assert_eq!(p.next_due(), Some(t0 + 2 * S));
        let sent = p.due(t0 + 2 * S);
        assert_eq!(
            sent,
            [Notification {
                category: Category::Conflicts,
                summary: "12 conflicts".into(),
                body: "In Docs: both versions of each file were kept.".into(),
            }]
        );
        assert!(p.due(t0 + 10 * S).is_empty());
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn a_category_is_notified_at_most_once_per_interval() {
        let t0 = Instant::now();
        let mut p = policy();
        p.observe(notice(Category::Conflicts, "Docs", "a"), t0);
        assert_eq!(p.due(t0 + 2 * S).len(), 1);
        // More conflicts soon after: they wait for the interval to end.
        p.observe(notice(Category::Conflicts, "Docs", "b"), t0 + 5 * S);
        p.observe(notice(Category::Conflicts, "Photos", "c"), t0 + 30 * S);
        assert!(p.due(t0 + 40 * S).is_empty());
        assert_eq!(p.next_due(), Some(t0 + 62 * S));
        let sent = p.due(t0 + 62 * S);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].summary, "2 conflicts");
        assert_eq!(
            sent[0].body,
            "In Docs, Photos: both versions of each file were kept."
        );
        // Another category is not held back by this one.
        p.observe(notice(Category::Error, "Docs", "disk full"), t0 + 63 * S);
        assert_eq!(
            p.due(t0 + 65 * S),
            [Notification {
                category: Category::Error,
                summary: "Docs stopped with an error".into(),
                body: "disk full".into(),
            }]
        );
    }

    #[test]
    fn a_state_that_stays_is_notified_once_until_it_is_cleared() {
        let t0 = Instant::now();
        let mut p = policy();
        let creds = notice(Category::Credentials, "Docs", "dav.example.com");
        p.observe(creds.clone(), t0);
        assert_eq!(
            p.due(t0 + 2 * S)[0].summary,
            "Password needed for dav.example.com"
        );
        // The worker reports the state again at each retry: nothing new.
        for i in 3..200 {
            p.observe(creds.clone(), t0 + i * S);
        }
        assert!(p.due(t0 + 300 * S).is_empty());
        // The user gave the password, then it was refused again later.
        p.clear(Category::Credentials, "Docs");
        p.observe(creds, t0 + 400 * S);
        assert_eq!(p.due(t0 + 402 * S).len(), 1);
    }

    #[test]
    fn a_category_switched_off_is_not_notified() {
        let t0 = Instant::now();
        let mut p = policy();
        p.observe(notice(Category::Conflicts, "Docs", "a"), t0);
        p.set_switches(Switches {
            conflicts: false,
            ..Switches::default()
        });
        p.observe(notice(Category::Conflicts, "Docs", "b"), t0);
        p.observe(
            notice(Category::Confirmation, "Docs", "would delete 90 files"),
            t0,
        );
        let sent = p.due(t0 + 2 * S);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].summary, "Docs waits for your confirmation");
        assert_eq!(sent[0].body, "would delete 90 files");
    }

    #[test]
    fn several_synchronizations_in_one_state_are_named_together() {
        let t0 = Instant::now();
        let mut p = policy();
        p.observe(notice(Category::Error, "Docs", "x"), t0);
        p.observe(notice(Category::Error, "Photos", "y"), t0 + S);
        let sent = p.due(t0 + 2 * S);
        assert_eq!(sent[0].summary, "2 synchronizations stopped with an error");
        assert_eq!(sent[0].body, "Docs, Photos");
    }
}
