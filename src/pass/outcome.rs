//! What one op leaves behind: the [`Outcome`] the executor hands to the
//! recorder (base changes, the log line, a conflict), the [`OpError`] an op
//! fails with, and the clock both stamp their rows with.

use super::StopKind;
use crate::engine::BaseChange;
use crate::fsops::FsError;
use crate::journal::{ConflictRow, LogRow};
use crate::remote::RemoteError;

/// The result of one op: what to record.
pub(super) struct Outcome {
    pub(super) changes: Vec<BaseChange>,
    pub(super) log: LogRow,
    pub(super) conflict: Option<ConflictRow>,
}

pub(super) enum OpError {
    Changed(String),
    Failed(String),
    /// No point going on with this pass (credentials, a full server).
    Fatal(String, StopKind),
}

impl From<FsError> for OpError {
    fn from(e: FsError) -> Self {
        if e.is_changed() {
            OpError::Changed(e.to_string())
        } else {
            OpError::Failed(e.to_string())
        }
    }
}

impl From<RemoteError> for OpError {
    fn from(e: RemoteError) -> Self {
        if e.is_changed() {
            OpError::Changed(e.to_string())
        } else if e.stops_pass() {
            let kind = match e {
                RemoteError::NoSpace => StopKind::NoSpace,
                RemoteError::Unreachable(_) => StopKind::Offline,
                _ => StopKind::Credentials,
            };
            OpError::Fatal(e.to_string(), kind)
        } else {
            OpError::Failed(e.to_string())
        }
    }
}

pub(super) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
