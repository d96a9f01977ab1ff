//! The tray's one contact with the daemon: the typed client and status
//! types of [`crate::protocol`], and what each event means to the tray. No
//! JSON here: the protocol reads it.

use crate::protocol::status::Event;
#[cfg(test)]
pub use crate::protocol::status::Progress;
pub use crate::protocol::status::{Notifications, RecentFile, SyncState, SyncStatus, overall};
pub use crate::protocol::{Client, ClientError};

/// The daemon's status, as far as the tray reads it.
#[derive(Debug, Default)]
pub struct StatusAnswer {
    pub syncs: Vec<SyncStatus>,
    pub recent: Vec<RecentFile>,
    /// Which desktop notifications the user wants.
    pub notifications: Notifications,
}

/// An open conflict, as far as the notifications read it.
#[derive(Debug)]
pub struct OpenConflict {
    /// The synchronization's name.
    pub sync: String,
    pub path: String,
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

/// What an event means to the tray.
pub fn read_event(event: Event) -> EventNews {
    match event {
        Event::State { sync } => EventNews::State(sync),
        Event::Transfer { .. } => EventNews::Transfer,
        Event::Config | Event::Lagged { .. } => EventNews::Reload,
        Event::Other => EventNews::Other,
    }
}

/// The whole status.
pub async fn status(client: &Client) -> Result<StatusAnswer, ClientError> {
    let status = client.status().await?;
    Ok(StatusAnswer {
        syncs: status.syncs.into_iter().map(|l| l.status).collect(),
        recent: status.recent,
        notifications: status.notifications,
    })
}

/// The open conflicts.
pub async fn open_conflicts(client: &Client) -> Result<Vec<OpenConflict>, ClientError> {
    Ok(client
        .conflicts()
        .await?
        .into_iter()
        .map(|c| OpenConflict {
            sync: c.sync,
            path: c.path,
        })
        .collect())
}

/// The recent files.
pub async fn recent(client: &Client) -> Result<Vec<RecentFile>, ClientError> {
    client.recent().await
}

/// The event stream.
pub fn events(
    client: &Client,
) -> impl futures_util::Stream<Item = Result<Event, ClientError>> + Send + Unpin + use<> {
    client.events()
}

/// Pause every synchronization.
pub async fn pause_all(client: &Client) -> Result<(), ClientError> {
    client.pause(None).await.map(drop)
}

/// Resume every synchronization.
pub async fn resume_all(client: &Client) -> Result<(), ClientError> {
    client.resume(None).await.map(drop)
}

/// Run a pass of every enabled synchronization now (not waiting for it).
pub async fn sync_now(client: &Client) -> Result<(), ClientError> {
    client.start_all(None).await.map(drop)
}
