//! The pure core of Ferry: the three trees, the user's settings, the
//! exclusion rules, the planner, the guards and how the base changes after
//! an op.
//!
//! Architecture Invariant: nothing in `engine` does I/O, reads a clock,
//! spawns a task or knows about SQLite, HTTP or the file system. It imports
//! nothing from the rest of the crate. That is what makes the table and
//! property tests in `tests/` possible.

pub mod absence;
pub mod base;
pub mod filter;
pub mod guard;
pub mod path;
pub mod plan;
pub mod reserved;
pub mod settings;
pub mod tree;

pub use base::BaseChange;
pub use filter::{Filter, NewFolders, UserFilter};
pub use plan::{
    DeleteReason, Excluded, Op, Plan, Problem, hash_requests, in_sync, met_on_both, plan,
    plan_with_excluded,
};
pub use settings::{CompareMode, ConflictPolicy, Direction, Guards, Settings};
pub use tree::{BaseEntry, BaseTree, Entry, Hash, Kind, Side, Sig, Tree};
