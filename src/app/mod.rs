//! The composition root of the `ferry` program: the one place that wires
//! the process together for `ferry daemon`.
//!
//! [`run`] is `ferry daemon`: a single-instance lock in the data folder, a
//! tokio runtime on a thread of its own, the daemon, the API on 127.0.0.1
//! and a random port (written with its token to `api.port`), and a
//! graceful shutdown on SIGINT/SIGTERM or when the main thread's hook asks
//! for it: passes start no new op, running ops get a grace period,
//! interrupted downloads keep their partial file and resume on the next
//! start.
//!
//! The main thread stays free for a user interface (GTK wants it): once
//! the daemon and the API are up, `run` calls its `main_thread` hook there
//! with an [`AppHandle`]. [`headless`] is the hook without one: it waits
//! until a signal stops Ferry. When the hook returns, Ferry stops.

pub mod limits;
mod lock;
mod signals;

pub use lock::{LOCK_FILE, lock};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::daemon::{Daemon, Options};
use crate::secrets::SecretStore;
use signals::wait_for_signal;

/// How `ferry daemon` was started.
pub struct RunOptions {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// Create the data folder if it is missing, readable by the user only (it
/// holds the API token, the journals and the logs).
pub fn create_data_dir(data_dir: &Path) -> std::io::Result<()> {
    crate::fsops::private::create_dir(data_dir)
}

/// What the main thread's hook gets: the runtime to work on, where the
/// daemon keeps its data, and the way to stop Ferry.
#[derive(Clone)]
pub struct AppHandle {
    data_dir: PathBuf,
    api_port: u16,
    runtime: tokio::runtime::Handle,
    /// `true` once Ferry is stopping (a signal, [`AppHandle::shutdown`], or
    /// the runtime's end).
    stop: Arc<watch::Sender<bool>>,
}

impl AppHandle {
    /// The data folder (where `api.port` is).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The loopback port the API listens on.
    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    /// The runtime the daemon runs on (for an API client, say).
    pub fn runtime(&self) -> tokio::runtime::Handle {
        self.runtime.clone()
    }

    /// Stop Ferry cleanly, as SIGTERM does (the tray's "Quit Ferry").
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Whether Ferry is stopping.
    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// A receiver that turns `true` when Ferry starts to stop (for a user
    /// interface that must close then).
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Block the calling thread (not a runtime thread) until Ferry starts
    /// to stop.
    pub fn wait(&self) {
        let mut stopping = self.stopping();
        self.runtime.block_on(async move {
            let _ = stopping.wait_for(|s| *s).await;
        });
    }
}

/// The main-thread hook without a user interface (`--headless`, no
/// display): wait until Ferry stops.
pub fn headless(app: AppHandle) -> anyhow::Result<()> {
    app.wait();
    Ok(())
}

/// Sets "stopping" when dropped: however the runtime's thread ends, the
/// main thread's hook hears of it.
struct StopOnDrop(Arc<watch::Sender<bool>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// `ferry daemon`: take the single-instance lock, start the runtime on a
/// thread of its own with the daemon and the API, then run `main_thread`
/// on this thread until it returns; stop Ferry cleanly and return when it
/// has stopped. Ferry stops on SIGINT or SIGTERM, on
/// [`AppHandle::shutdown`], or when the hook returns. A failure to start
/// (lock, configuration, API) is returned before the hook is called; an
/// error of the hook is returned after Ferry stopped.
pub fn run(
    opts: RunOptions,
    main_thread: impl FnOnce(AppHandle) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let _lock = lock(&opts.data_dir)?;
    crate::memory::limit_arenas();
    match limits::raise_open_files() {
        Ok((old, new)) if new > old => {
            tracing::debug!("open-files limit raised from {old} to {new}")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("could not raise the open-files limit: {e}"),
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let runtime = rt.handle().clone();
    let data_dir = opts.data_dir.clone();
    let stop = Arc::new(watch::channel(false).0);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let serving = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("ferry-runtime".into())
            .spawn(move || {
                let rt = rt;
                let stopped = StopOnDrop(stop.clone());
                let served = rt.block_on(serve(opts, stop, ready_tx));
                drop(stopped);
                served
            })
            .map_err(|e| anyhow::anyhow!("cannot start the runtime's thread: {e}"))?
    };
    let join = |thread: std::thread::JoinHandle<anyhow::Result<()>>| {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("the runtime's thread panicked"))?
    };
    // The daemon and the API are up, or failed to start.
    let Ok(api_port) = ready_rx.recv() else {
        return join(serving);
    };
    let app = AppHandle {
        data_dir,
        api_port,
        runtime,
        stop,
    };
    let hooked = main_thread(app.clone());
    if let Err(e) = &hooked {
        tracing::error!("{e:#}; Ferry stops");
    }
    app.shutdown();
    join(serving)?;
    hooked
}

/// The daemon and the API on the runtime: up (its port sent on `ready`),
/// then down once `stop` turns true or a signal comes.
async fn serve(
    opts: RunOptions,
    stop: Arc<watch::Sender<bool>>,
    ready: std::sync::mpsc::Sender<u16>,
) -> anyhow::Result<()> {
    let secrets: Arc<dyn SecretStore> = Arc::new(crate::secrets::KeyringStore::new());
    let config_dir = opts.config_dir.clone();
    let daemon = Daemon::start(Options {
        on_first_sync: Some(Arc::new(move || first_setup(&config_dir))),
        config_dir: opts.config_dir,
        data_dir: opts.data_dir.clone(),
        secrets,
        ca_file: opts.ca_file,
        timeout: opts.timeout,
    })
    .await?;
    let api = crate::api::start(daemon.clone(), stop.subscribe()).await?;
    tracing::info!(port = api.port, "Ferry is running");
    eprintln!(
        "Ferry is running: {} synchronization(s); API on http://127.0.0.1:{} (token in {})",
        daemon.config().await.syncs.len(),
        api.port,
        api.port_file.display()
    );
    let _ = ready.send(api.port);
    let mut stopping = stop.subscribe();
    tokio::select! {
        _ = wait_for_signal() => {}
        _ = stopping.wait_for(|s| *s) => {}
    }
    tracing::info!("shutting down");
    stop.send_replace(true);
    daemon.shutdown().await;
    crate::protocol::portfile::remove(&opts.data_dir, std::process::id());
    let _ = tokio::time::timeout(Duration::from_secs(2), api.task).await;
    Ok(())
}

/// The first synchronization was added: Ferry starts at login from now on,
/// unless the user chose otherwise before (the desktop is the app's
/// business, so the daemon only calls this hook).
fn first_setup(config_dir: &Path) {
    let turned_on = std::env::current_exe()
        .map_err(anyhow::Error::from)
        .and_then(|program| crate::autostart::on_first_setup(config_dir, &program));
    match turned_on {
        Ok(true) => {
            tracing::info!("the first synchronization is set up: auto-start at login is on")
        }
        Ok(false) => {}
        Err(e) => tracing::warn!("cannot turn auto-start on after the first setup: {e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path) -> RunOptions {
        RunOptions {
            config_dir: dir.join("config"),
            data_dir: dir.join("data"),
            ca_file: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_hook_runs_on_the_calling_thread_outside_the_runtime_while_the_api_serves() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let caller = std::thread::current().id();
        let mut seen = None;
        run(options(dir.path()), |app| {
            let endpoint = crate::protocol::portfile::read(app.data_dir()).unwrap();
            seen = Some((
                std::thread::current().id(),
                tokio::runtime::Handle::try_current().is_ok(),
                endpoint.port == app.api_port(),
                std::net::TcpStream::connect(("127.0.0.1", app.api_port())).is_ok(),
                app.is_stopping(),
            ));
            app.shutdown();
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, Some((caller, false, true, true, false)));
        // Stopped cleanly: the port file is gone and the lock released.
        assert!(crate::protocol::portfile::read(&data_dir).is_err());
        lock(&data_dir).unwrap();
    }

    #[test]
    fn a_second_instance_is_refused_while_the_first_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut second = None;
        run(options(dir.path()), |app| {
            second = Some(lock(app.data_dir()).map(|_| ()));
            Ok(())
        })
        .unwrap();
        let message = second.unwrap().unwrap_err().to_string();
        assert!(
            message.starts_with("Ferry is already running (pid "),
            "{message}"
        );
    }

    #[test]
    fn the_headless_hook_waits_until_ferry_is_asked_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        run(options(dir.path()), |app| {
            let stopper = app.clone();
            app.runtime().spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                stopper.shutdown();
            });
            headless(app)
        })
        .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn a_failing_hook_stops_ferry_and_its_error_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let err = run(options(dir.path()), |_| anyhow::bail!("no display"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "no display");
        lock(&data_dir).unwrap();
    }

    #[test]
    fn a_failure_to_start_is_returned_without_calling_the_hook() {
        let dir = tempfile::tempdir().unwrap();
        // A configuration folder that is a file: the daemon cannot start.
        std::fs::write(dir.path().join("config"), b"").unwrap();
        let mut called = false;
        let result = run(options(dir.path()), |_| {
            called = true;
            Ok(())
        });
        assert!(result.is_err());
        assert!(!called);
    }
}
