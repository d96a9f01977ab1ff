//! What the daemon and its workers share: the data folder, the event bus,
//! the "recent files" list, the keyring, the WebDAV connection options and
//! the global bandwidth limits.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::protocol::status::{Event, RecentFile};
use crate::remote::bandwidth::Limits;
use crate::secrets::SecretStore;

/// How many recent files are kept.
pub const RECENT_FILES: usize = 20;

/// What the workers share.
pub struct Shared {
    pub data_dir: PathBuf,
    pub events: broadcast::Sender<Event>,
    pub recent: Mutex<VecDeque<RecentFile>>,
    pub secrets: Arc<dyn SecretStore>,
    /// An extra CA certificate for every WebDAV connection.
    pub ca_file: Option<PathBuf>,
    /// WebDAV request timeout.
    pub timeout: Duration,
    /// The global bandwidth limits, shared by every synchronization's
    /// transfers (set from the settings, changed while they run).
    pub bandwidth: Limits,
}
