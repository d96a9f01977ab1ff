//! The tray's one contact with the daemon's protocol: the status types it
//! reads and the API client it talks through. Everything else in `tray`
//! uses these names from here, so a move of the protocol (to
//! `crate::protocol::{Client, status::*}`) changes only the lines below.

pub use crate::api::client::{Client, ClientError};
#[cfg(test)]
pub use crate::daemon::state::Progress;
pub use crate::daemon::state::{RecentFile, SyncState, SyncStatus, overall};

/// The daemon's status as `/api/status` serves it (the fields the tray
/// reads).
#[derive(Debug, Default, serde::Deserialize)]
pub struct StatusAnswer {
    #[serde(default)]
    pub syncs: Vec<SyncStatus>,
    #[serde(default)]
    pub recent: Vec<RecentFile>,
}

/// What one `/api/events` event means to the tray.
#[derive(Debug)]
pub enum EventNews {
    /// A synchronization's state or progress changed.
    State(Box<SyncStatus>),
    /// A file was transferred (or an op failed): the recent files and the
    /// conflicts may have changed.
    Transfer,
    /// Synchronizations were added, changed or removed, or events were
    /// missed: read the whole status again.
    Reload,
    /// Something the tray does not use.
    Other,
}

/// Read one event of the stream.
pub fn read_event(v: serde_json::Value) -> EventNews {
    match v["type"].as_str() {
        Some("state") => match serde_json::from_value::<SyncStatus>(v["sync"].clone()) {
            Ok(s) => EventNews::State(Box::new(s)),
            Err(_) => EventNews::Reload,
        },
        Some("transfer") => EventNews::Transfer,
        Some("config") | Some("lagged") => EventNews::Reload,
        _ => EventNews::Other,
    }
}

/// The whole status.
pub async fn status(client: &Client) -> Result<StatusAnswer, ClientError> {
    client.get("/api/status").await
}

/// How many conflicts are open.
pub async fn open_conflicts(client: &Client) -> Result<usize, ClientError> {
    let list: Vec<serde_json::Value> = client.get("/api/conflicts").await?;
    Ok(list.len())
}

/// The recent files.
pub async fn recent(client: &Client) -> Result<Vec<RecentFile>, ClientError> {
    client.get("/api/recent").await
}

/// The event stream.
pub fn events(
    client: &Client,
) -> impl futures_util::Stream<Item = Result<serde_json::Value, ClientError>> + Send + Unpin + use<>
{
    client.events("/api/events")
}

/// Pause every synchronization.
pub async fn pause_all(client: &Client) -> Result<(), ClientError> {
    client
        .post::<_, serde_json::Value>("/api/pause", &serde_json::json!({}))
        .await
        .map(drop)
}

/// Resume every synchronization.
pub async fn resume_all(client: &Client) -> Result<(), ClientError> {
    client
        .post::<_, serde_json::Value>("/api/resume", &serde_json::json!({}))
        .await
        .map(drop)
}

/// Run a pass of every enabled synchronization now (not waiting for it).
pub async fn sync_now(client: &Client) -> Result<(), ClientError> {
    client
        .post::<_, serde_json::Value>("/api/run", &serde_json::json!({"wait": false}))
        .await
        .map(drop)
}
