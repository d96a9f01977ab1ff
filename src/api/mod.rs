//! The loopback HTTP API of the daemon (axum), used by the `ferry` CLI now
//! and by the tray and the preferences UI. Routes are documented in
//! `docs/api.md`.
//!
//! * [`security`] — the checks every request passes (token, Host, Origin,
//!   JSON bodies, size limit).
//! * [`portfile`], [`client`] — re-exported from [`crate::protocol`],
//!   where they live.
//! * [`routes`] — the routes, thin wrappers over [`crate::daemon::Daemon`].
//! * [`ui`] — the preferences UI's files and its login (`/login`,
//!   `/api/login-code`); [`session`] — the login codes and browser sessions.

pub mod routes;
pub mod security;
pub mod session;
pub mod ui;

use std::path::PathBuf;
use std::sync::Arc;

use crate::daemon::Daemon;
use crate::protocol::portfile;

/// Paths that need no token: the health check, the UI's page and its
/// login (which checks its own code).
pub const PUBLIC: &[&str] = &["/api/health", "/", "/login"];
/// Path prefixes that need no token: the UI's static files.
pub const PUBLIC_PREFIXES: &[&str] = &[ui::STATIC_PREFIX];

/// A running API server.
pub struct ApiHandle {
    pub port: u16,
    pub port_file: PathBuf,
    pub task: tokio::task::JoinHandle<()>,
}

/// Bind 127.0.0.1 on a random port, write the port file with a new token,
/// serve until `shutdown` turns true.
pub async fn start(
    daemon: Arc<Daemon>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<ApiHandle> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let token = portfile::new_token();
    let data_dir = daemon.data_dir().to_path_buf();
    let sessions = Arc::new(session::Sessions::default());
    let router = security::protect(
        routes::router(daemon, shutdown.clone()).merge(ui::router(sessions.clone(), port)),
        security::Guard {
            token: token.clone(),
            port,
            public: PUBLIC,
            public_prefixes: PUBLIC_PREFIXES,
            sessions,
        },
    );
    let port_file = portfile::write(
        &data_dir,
        &portfile::Endpoint {
            port,
            token,
            pid: std::process::id(),
        },
    )?;
    let task = tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("the API server stopped: {e}");
        }
    });
    Ok(ApiHandle {
        port,
        port_file,
        task,
    })
}
