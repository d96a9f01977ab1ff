//! The tray's desktop notifications: what the daemon reports (each
//! synchronization's state, the open conflicts) goes through the pure
//! [`crate::notify_policy`] (aggregation, rate limit, the settings'
//! switches), and what it lets through is sent to the desktop's
//! notification server: `org.freedesktop.Notifications` on the session bus
//! (Linux, through libdbus), from a thread of its own so a slow server never
//! holds up the tray.

use std::time::Instant;

use crate::notify_policy::{Category, Limits, Notice, Notification, Policy, Switches};

use super::proto::{Notifications, OpenConflict, SyncState, SyncStatus};

/// The policy and the sender.
pub struct Notifier {
    policy: Policy,
    /// The sending thread's end, started with the first notification.
    sender: Option<std::sync::mpsc::Sender<Notification>>,
}

impl Default for Notifier {
    fn default() -> Notifier {
        Notifier {
            policy: Policy::new(Switches::default(), Limits::default()),
            sender: None,
        }
    }
}

impl Notifier {
    /// The settings' switches, as the daemon serves them.
    pub fn set_switches(&mut self, n: Notifications) {
        self.policy.set_switches(Switches {
            credentials: n.credentials,
            confirmation: n.confirmation,
            conflicts: n.conflicts,
            errors: n.errors,
        });
    }

    /// A synchronization's state (from the status or an event).
    pub fn state(&mut self, s: &SyncStatus) {
        let now = Instant::now();
        let notice = |category, detail: &str| Notice {
            category,
            sync: s.name.clone(),
            detail: detail.to_string(),
        };
        match &s.state {
            SyncState::CredentialsRequired { .. } => self
                .policy
                .observe(notice(Category::Credentials, &server_of(&s.remote)), now),
            SyncState::NeedsConfirmation { reason } => self
                .policy
                .observe(notice(Category::Confirmation, reason), now),
            SyncState::Error { reason, .. } => {
                self.policy.observe(notice(Category::Error, reason), now)
            }
            // A pass runs: the credentials were given, the guard confirmed
            // (an error may come back at the retry: it stays notified).
            SyncState::Syncing(_) => {
                self.policy.clear(Category::Credentials, &s.name);
                self.policy.clear(Category::Confirmation, &s.name);
            }
            SyncState::Synced => {
                for c in [
                    Category::Credentials,
                    Category::Confirmation,
                    Category::Error,
                ] {
                    self.policy.clear(c, &s.name);
                }
            }
            _ => {}
        }
    }

    /// The open conflicts: the ones not seen before are new.
    pub fn conflicts(&mut self, open: &[OpenConflict]) {
        let now = Instant::now();
        for c in open {
            self.policy.observe(
                Notice {
                    category: Category::Conflicts,
                    sync: c.sync.clone(),
                    detail: c.path.clone(),
                },
                now,
            );
        }
    }

    /// When the next notification is due (for the caller's timer).
    pub fn next_due(&self) -> Option<tokio::time::Instant> {
        self.policy.next_due().map(tokio::time::Instant::from_std)
    }

    /// Send what is due now.
    pub fn send_due(&mut self) {
        for n in self.policy.due(Instant::now()) {
            tracing::info!("notification: {}: {}", n.summary, n.body);
            let sender = self.sender.get_or_insert_with(start_sender);
            if let Err(e) = sender.send(n) {
                // The thread ended: start another with the next one.
                tracing::warn!("tray: the notification sender stopped: {e}");
                self.sender = None;
            }
        }
    }
}

/// The server of a remote described without secrets
/// (`https://alice@dav.example.com/dav/` → `dav.example.com`).
fn server_of(remote: &str) -> String {
    let rest = remote.split_once("://").map_or(remote, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() {
        remote.to_string()
    } else {
        host.to_string()
    }
}

/// The thread that sends: one session-bus connection, opened again after
/// a failure.
fn start_sender() -> std::sync::mpsc::Sender<Notification> {
    let (tx, rx) = std::sync::mpsc::channel::<Notification>();
    let spawned = std::thread::Builder::new()
        .name("ferry-notify".into())
        .spawn(move || platform::serve(rx));
    if let Err(e) = spawned {
        tracing::warn!("tray: cannot start the notification thread: {e}");
    }
    tx
}

#[cfg(target_os = "linux")]
mod platform {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::notify_policy::Notification;

    /// How long the notification server may take to answer.
    const TIMEOUT: Duration = Duration::from_secs(5);

    pub fn serve(rx: std::sync::mpsc::Receiver<Notification>) {
        let mut conn: Option<dbus::blocking::Connection> = None;
        for n in rx {
            if conn.is_none() {
                match dbus::blocking::Connection::new_session() {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!(
                            "tray: cannot show the notification {:?}: no session bus ({e})",
                            n.summary
                        );
                        continue;
                    }
                }
            }
            let Some(c) = &conn else { continue };
            if let Err(e) = notify(c, &n) {
                tracing::warn!(
                    "tray: the desktop's notification server did not take {:?}: {e} \
                     (is a notification daemon running?)",
                    n.summary
                );
                conn = None;
            }
        }
    }

    /// `org.freedesktop.Notifications.Notify`.
    fn notify(conn: &dbus::blocking::Connection, n: &Notification) -> Result<(), dbus::Error> {
        let proxy = conn.with_proxy(
            "org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            TIMEOUT,
        );
        let hints: dbus::arg::PropMap = HashMap::new();
        let (_id,): (u32,) = proxy.method_call(
            "org.freedesktop.Notifications",
            "Notify",
            (
                "Ferry",
                0u32,
                "ferry",
                n.summary.as_str(),
                n.body.as_str(),
                Vec::<String>::new(),
                hints,
                -1i32,
            ),
        )?;
        Ok(())
    }
}

/// Elsewhere notifications are not sent yet: they are logged.
#[cfg(not(target_os = "linux"))]
mod platform {
    use crate::notify_policy::Notification;

    pub fn serve(rx: std::sync::mpsc::Receiver<Notification>) {
        for n in rx {
            tracing::debug!("tray: notifications are not shown on this platform: {n:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn status(state: SyncState) -> SyncStatus {
        SyncStatus {
            id: "docs".into(),
            name: "Docs".into(),
            local: "/home/u/Docs".into(),
            remote: "https://alice@dav.example.com/dav/Docs/".into(),
            state,
            last_pass: None,
            watch_warning: None,
        }
    }

    fn error() -> SyncState {
        SyncState::Error {
            reason: "disk full".into(),
            retry_in_secs: 30,
        }
    }

    /// The summaries due `secs` from now.
    fn due_in(n: &mut Notifier, secs: u64) -> Vec<String> {
        n.policy
            .due(Instant::now() + Duration::from_secs(secs))
            .into_iter()
            .map(|n| n.summary)
            .collect()
    }

    #[test]
    fn an_error_retried_is_notified_once_and_again_after_a_synced_pass() {
        let mut n = Notifier::default();
        n.state(&status(error()));
        assert_eq!(due_in(&mut n, 3), ["Docs stopped with an error"]);
        // The retry runs and fails the same way: nothing new.
        n.state(&status(SyncState::Syncing(Default::default())));
        n.state(&status(error()));
        assert!(due_in(&mut n, 200).is_empty());
        // It worked once, then failed again: a new notification.
        n.state(&status(SyncState::Synced));
        n.state(&status(error()));
        assert_eq!(due_in(&mut n, 400), ["Docs stopped with an error"]);
    }

    #[test]
    fn credentials_and_confirmation_name_the_server_and_the_reason() {
        let mut n = Notifier::default();
        n.state(&status(SyncState::CredentialsRequired {
            reason: "401".into(),
        }));
        n.state(&status(SyncState::NeedsConfirmation {
            reason: "would delete 90 files".into(),
        }));
        let mut due = due_in(&mut n, 3);
        due.sort();
        assert_eq!(
            due,
            [
                "Docs waits for your confirmation",
                "Password needed for dav.example.com"
            ]
        );
    }

    #[test]
    fn switches_from_the_settings_silence_a_category() {
        let mut n = Notifier::default();
        n.set_switches(Notifications {
            errors: false,
            ..Notifications::default()
        });
        n.state(&status(error()));
        assert!(due_in(&mut n, 3).is_empty());
    }

    #[test]
    fn the_server_is_read_from_the_remote_without_user_or_path() {
        assert_eq!(
            server_of("https://alice@dav.example.com/dav/"),
            "dav.example.com"
        );
        assert_eq!(server_of("http://127.0.0.1:8080/x"), "127.0.0.1:8080");
        assert_eq!(server_of("/srv/backup"), "/srv/backup");
    }
}
