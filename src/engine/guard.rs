//! The guards: when a pass must stop and ask before it changes anything.
//!
//! Two kinds of observation make a pass stop (until the user confirms,
//! `--force` or `ferry confirm`):
//!
//! * a side's root is missing, or empty, while items were in sync: an
//!   unmounted disk or a replaced folder looks exactly like "the user
//!   deleted everything" ([`roots`]);
//! * the plan deletes more than the limits allow ([`deletions`]): more
//!   than [`Guards::max_delete_count`] items, or more than
//!   [`Guards::max_delete_ratio`] of the items in sync.
//!
//! And one first-pass rule: a remote root that does not exist is created
//! only when the user asked for it ([`Confirmed::create_remote_root`]), so
//! that a typo never becomes a folder on the server.
//!
//! These are pure functions of counts and of what the observation found;
//! the pass (`crate::pass`) calls them, turns a [`Stop`] into its error (or,
//! in a dry run, a note on the report), and creates the roots
//! [`creates_root`] allows.

use std::fmt;

use super::settings::Guards;
use super::tree::Side;

/// What the user allowed for this pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confirmed {
    /// Go on past every guard but the missing remote root of a first pass
    /// (`--force`, `ferry confirm`).
    pub force: bool,
    /// A first pass may create the remote root when it does not exist
    /// (`--create`, the API's `create_remote_root`).
    pub create_remote_root: bool,
}

/// What the observation of a side found at its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// The root does not exist.
    Missing,
    /// The root exists and nothing synchronized is in it.
    Empty,
    /// The root holds items.
    Holding,
}

/// Which limit a mass deletion goes past.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// More items than [`Guards::max_delete_count`].
    Count(usize),
    /// More than this share ([`Guards::max_delete_ratio`]) of the items in
    /// sync.
    Ratio(f64),
}

/// Why a pass must stop before it changes anything.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// A first pass (nothing in sync) found no remote root and was not
    /// asked to create one.
    RemoteRootAbsent,
    /// The side's root does not exist, but `in_sync` items were in sync.
    RootMissing { side: Side, in_sync: usize },
    /// The side's root is empty, but `in_sync` items were in sync.
    RootEmpty { side: Side, in_sync: usize },
    /// The plan deletes `deletions` items, past `limit`; `in_sync` items
    /// were in sync.
    MassDeletion {
        deletions: usize,
        in_sync: usize,
        limit: Limit,
    },
}

/// The guards on the two roots, in the order they stop a pass (the first
/// one is the one to report). `in_sync`: the items in the base (all of it,
/// even for a scoped pass). A scoped pass sees only part of each side, so
/// an empty observation says nothing there; a missing root does.
pub fn roots(
    local: Root,
    remote: Root,
    in_sync: usize,
    scoped: bool,
    confirmed: Confirmed,
) -> Vec<Stop> {
    let mut stops = Vec::new();
    if remote == Root::Missing && in_sync == 0 && !confirmed.create_remote_root {
        stops.push(Stop::RemoteRootAbsent);
    }
    if confirmed.force || in_sync == 0 {
        return stops;
    }
    for (side, root) in [(Side::Local, local), (Side::Remote, remote)] {
        if root == Root::Missing {
            stops.push(Stop::RootMissing { side, in_sync });
        }
    }
    if !scoped {
        for (side, root) in [(Side::Local, local), (Side::Remote, remote)] {
            if root == Root::Empty {
                stops.push(Stop::RootEmpty { side, in_sync });
            }
        }
    }
    stops
}

/// Whether a pass that goes on creates a side's root: only a missing one,
/// and only when nothing was in sync (a first pass) or the user confirmed.
pub fn creates_root(root: Root, in_sync: usize, confirmed: Confirmed) -> bool {
    root == Root::Missing && (in_sync == 0 || confirmed.force)
}

/// The mass-deletion guard: a plan deleting `deletions` items, when
/// `in_sync` items were in sync, stops past either limit (the count is
/// checked first). Nothing stops a confirmed pass or one deleting nothing.
pub fn deletions(
    limits: &Guards,
    deletions: usize,
    in_sync: usize,
    confirmed: Confirmed,
) -> Option<Stop> {
    if confirmed.force || deletions == 0 {
        return None;
    }
    let limit = if deletions > limits.max_delete_count {
        Limit::Count(limits.max_delete_count)
    } else if deletions as f64 > limits.max_delete_ratio * in_sync as f64 {
        Limit::Ratio(limits.max_delete_ratio)
    } else {
        return None;
    };
    Some(Stop::MassDeletion {
        deletions,
        in_sync,
        limit,
    })
}

/// "1 item", "2 items".
fn items(n: usize) -> String {
    if n == 1 {
        "1 item".into()
    } else {
        format!("{n} items")
    }
}

/// What stopped, in a sentence without advice (how to go on depends on the
/// front end). The roots are named generically ("the remote root"): the
/// pass names the actual folder or URL where it knows it.
impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Stop::RemoteRootAbsent => {
                write!(f, "the remote root does not exist (check it for a typo).")
            }
            Stop::RootMissing { side, in_sync } => write!(
                f,
                "the {side} root does not exist, but {in_sync} items were in sync: is a disk unmounted?"
            ),
            Stop::RootEmpty { side, in_sync } => write!(
                f,
                "the {side} folder is empty, but {in_sync} items were in sync (is a disk unmounted or a folder replaced?)."
            ),
            Stop::MassDeletion {
                deletions: n,
                limit: Limit::Count(max),
                ..
            } => write!(
                f,
                "this pass would delete {}, more than the limit of {max}.",
                items(n)
            ),
            // Never "1 of the 0 items": what is deleted need not have been
            // in sync (a first pass of a mirror).
            Stop::MassDeletion {
                deletions: n,
                in_sync,
                limit: Limit::Ratio(ratio),
            } => {
                if n <= in_sync {
                    write!(
                        f,
                        "this pass would delete {n} of the {} in sync, more than {:.0}%.",
                        items(in_sync),
                        ratio * 100.0
                    )
                } else if in_sync == 0 {
                    write!(
                        f,
                        "this pass would delete {} and nothing was in sync before.",
                        items(n)
                    )
                } else {
                    write!(
                        f,
                        "this pass would delete {}, more than the {} in sync.",
                        items(n),
                        items(in_sync)
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Confirmed = Confirmed {
        force: false,
        create_remote_root: false,
    };
    const FORCE: Confirmed = Confirmed {
        force: true,
        create_remote_root: false,
    };
    const CREATE: Confirmed = Confirmed {
        force: false,
        create_remote_root: true,
    };

    fn limits(ratio: f64, count: usize) -> Guards {
        Guards {
            max_delete_ratio: ratio,
            max_delete_count: count,
        }
    }

    #[test]
    fn deleting_up_to_the_share_of_the_items_in_sync_goes_on() {
        assert_eq!(deletions(&limits(0.5, 1000), 5, 10, NONE), None);
        assert_eq!(deletions(&limits(0.5, 1000), 0, 0, NONE), None);
    }

    #[test]
    fn deleting_more_than_the_share_of_the_items_in_sync_stops() {
        let stop = deletions(&limits(0.5, 1000), 6, 10, NONE);
        assert_eq!(
            stop,
            Some(Stop::MassDeletion {
                deletions: 6,
                in_sync: 10,
                limit: Limit::Ratio(0.5)
            })
        );
        assert_eq!(
            stop.map(|s| s.to_string()).as_deref(),
            Some("this pass would delete 6 of the 10 items in sync, more than 50%.")
        );
    }

    #[test]
    fn deleting_more_than_the_count_stops_whatever_the_share() {
        let stop = deletions(&limits(1.0, 3), 4, 100, NONE);
        assert_eq!(
            stop.map(|s| s.to_string()).as_deref(),
            Some("this pass would delete 4 items, more than the limit of 3.")
        );
    }

    #[test]
    fn a_confirmed_pass_deletes_past_every_limit() {
        assert_eq!(deletions(&limits(0.0, 0), 50, 50, FORCE), None);
    }

    #[test]
    fn deleting_what_was_never_in_sync_never_says_one_of_none() {
        let say = |n, in_sync| {
            deletions(&limits(0.5, 1000), n, in_sync, NONE)
                .map(|s| s.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            say(1, 0),
            "this pass would delete 1 item and nothing was in sync before."
        );
        assert_eq!(
            say(3, 1),
            "this pass would delete 3 items, more than the 1 item in sync."
        );
    }

    #[test]
    fn a_missing_remote_root_on_a_first_pass_stops_unless_creating_it_was_asked_for() {
        let r = |c| roots(Root::Holding, Root::Missing, 0, false, c);
        assert_eq!(r(NONE), vec![Stop::RemoteRootAbsent]);
        // Forcing past the guards is not asking for a folder on the server.
        assert_eq!(r(FORCE), vec![Stop::RemoteRootAbsent]);
        assert_eq!(r(CREATE), vec![]);
        assert!(creates_root(Root::Missing, 0, CREATE));
    }

    #[test]
    fn a_missing_local_root_on_a_first_pass_is_created() {
        assert_eq!(roots(Root::Missing, Root::Holding, 0, false, NONE), vec![]);
        assert!(creates_root(Root::Missing, 0, NONE));
        assert!(!creates_root(Root::Empty, 0, NONE));
    }

    #[test]
    fn a_root_missing_while_items_were_in_sync_stops_and_is_not_created() {
        assert_eq!(
            roots(Root::Missing, Root::Missing, 7, false, NONE),
            vec![
                Stop::RootMissing {
                    side: Side::Local,
                    in_sync: 7
                },
                Stop::RootMissing {
                    side: Side::Remote,
                    in_sync: 7
                },
            ]
        );
        assert!(!creates_root(Root::Missing, 7, NONE));
        assert_eq!(roots(Root::Missing, Root::Holding, 7, false, FORCE), vec![]);
        assert!(creates_root(Root::Missing, 7, FORCE));
    }

    #[test]
    fn an_empty_root_while_items_were_in_sync_stops_a_full_pass_only() {
        let stop = roots(Root::Holding, Root::Empty, 2, false, NONE);
        assert_eq!(
            stop,
            vec![Stop::RootEmpty {
                side: Side::Remote,
                in_sync: 2
            }]
        );
        assert_eq!(
            stop[0].to_string(),
            "the remote folder is empty, but 2 items were in sync (is a disk unmounted or a folder replaced?)."
        );
        // A scoped pass sees part of each side: emptiness says nothing.
        assert_eq!(roots(Root::Empty, Root::Empty, 2, true, NONE), vec![]);
        assert_eq!(roots(Root::Empty, Root::Empty, 2, false, FORCE), vec![]);
        // Nothing was in sync: an empty side is a first pass.
        assert_eq!(roots(Root::Empty, Root::Empty, 0, false, NONE), vec![]);
    }

    #[test]
    fn the_roots_stop_in_the_order_they_are_reported() {
        assert_eq!(
            roots(Root::Empty, Root::Missing, 3, false, NONE),
            vec![
                Stop::RootMissing {
                    side: Side::Remote,
                    in_sync: 3
                },
                Stop::RootEmpty {
                    side: Side::Local,
                    in_sync: 3
                },
            ]
        );
    }
}
