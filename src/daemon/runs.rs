//! Passes the user asks for: run one or all, pause, resume, confirm or
//! cancel what a guard stopped, simulate.

use tokio::sync::oneshot;

use super::worker::Command;
use super::{Daemon, DaemonError, PassSummary, Result, SyncConfig, SyncState, internal};

impl Daemon {
    pub(super) async fn send(&self, id: &str, cmd: Command) -> Result<()> {
        let workers = self.workers.lock().await;
        let w = workers
            .get(id)
            .ok_or_else(|| DaemonError::Conflict(format!("{id} is not running")))?;
        w.tx.send(cmd)
            .map_err(|_| DaemonError::Conflict(format!("{id} is stopping")))
    }

    /// Run a pass of one synchronization now; with `wait`, its summary.
    pub async fn run(&self, id_or_name: &str, wait: bool) -> Result<Option<PassSummary>> {
        let sync = self.find(id_or_name).await?;
        if !sync.enabled {
            return Err(DaemonError::Refused {
                code: "disabled",
                message: format!(
                    "{} is disabled: `ferry enable {}` turns it on",
                    sync.name, sync.name
                ),
            });
        }
        if !wait {
            self.send(&sync.id, Command::Run { reply: None }).await?;
            return Ok(None);
        }
        let (tx, rx) = oneshot::channel();
        self.send(&sync.id, Command::Run { reply: Some(tx) })
            .await?;
        match rx.await {
            Ok(Ok(summary)) => Ok(Some(summary)),
            Ok(Err(e)) => Err(self.refusal(&sync.id, e).await),
            Err(_) => Err(internal("the synchronization stopped")),
        }
    }

    /// Why a pass of `id` failed, told apart by the state it left (the
    /// worker sets its state before it answers).
    async fn refusal(&self, id: &str, message: String) -> DaemonError {
        let code = match self.status(id).await.map(|s| s.state) {
            Ok(SyncState::NeedsConfirmation { .. }) => "needs_confirmation",
            Ok(SyncState::CredentialsRequired { .. }) => "credentials_required",
            Ok(SyncState::Offline { .. }) => "offline",
            _ => return DaemonError::Conflict(message),
        };
        DaemonError::Refused { code, message }
    }

    /// Run every enabled synchronization: one after the other, or all at
    /// once (`parallel`). With `wait`, each one's outcome.
    pub async fn run_all(
        &self,
        parallel: Option<bool>,
        wait: bool,
    ) -> Result<Vec<(String, std::result::Result<PassSummary, DaemonError>)>> {
        let config = self.config().await;
        let parallel = parallel.unwrap_or(config.settings.start_all_parallel);
        let syncs: Vec<SyncConfig> = config.syncs.into_iter().filter(|s| s.enabled).collect();
        let one = |s: SyncConfig| async move {
            let r = match self.run(&s.id, true).await {
                Ok(Some(summary)) => Ok(summary),
                Ok(None) => Err(internal("no outcome")),
                Err(e) => Err(e),
            };
            (s.name, r)
        };
        if !wait && parallel {
            for s in &syncs {
                self.send(&s.id, Command::Run { reply: None }).await?;
            }
            return Ok(Vec::new());
        }
        if parallel {
            return Ok(futures_util::future::join_all(syncs.into_iter().map(one)).await);
        }
        let mut out = Vec::new();
        for s in syncs {
            out.push(one(s).await);
        }
        Ok(out)
    }

    /// Pause one synchronization, or all.
    pub async fn pause(&self, id_or_name: Option<&str>) -> Result<()> {
        self.each(id_or_name, || Command::Pause).await
    }

    pub async fn resume(&self, id_or_name: Option<&str>) -> Result<()> {
        self.each(id_or_name, || Command::Resume).await
    }

    async fn each(&self, id_or_name: Option<&str>, cmd: impl Fn() -> Command) -> Result<()> {
        match id_or_name {
            Some(name) => {
                let sync = self.find(name).await?;
                self.send(&sync.id, cmd()).await
            }
            None => {
                for w in self.workers.lock().await.values() {
                    let _ = w.tx.send(cmd());
                }
                Ok(())
            }
        }
    }

    /// Proceed with what a guard stopped.
    pub async fn confirm(&self, id_or_name: &str) -> Result<()> {
        let status = self.status(id_or_name).await?;
        if !matches!(status.state, SyncState::NeedsConfirmation { .. }) {
            return Err(DaemonError::Conflict(format!(
                "{} is not waiting for a confirmation",
                status.name
            )));
        }
        self.send(&status.id, Command::Confirm).await
    }

    /// Do not proceed: the synchronization is paused.
    pub async fn cancel(&self, id_or_name: &str) -> Result<()> {
        let status = self.status(id_or_name).await?;
        if !matches!(status.state, SyncState::NeedsConfirmation { .. }) {
            return Err(DaemonError::Conflict(format!(
                "{} is not waiting for a confirmation",
                status.name
            )));
        }
        self.send(&status.id, Command::Cancel).await
    }

    /// What a pass would do now (nothing is touched).
    pub async fn simulate(&self, id_or_name: &str) -> Result<crate::sync::Report> {
        let sync = self.find(id_or_name).await?;
        let (tx, rx) = oneshot::channel();
        self.send(&sync.id, Command::Simulate { reply: tx }).await?;
        match rx.await {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(DaemonError::Conflict(e)),
            Err(_) => Err(internal("the synchronization stopped")),
        }
    }
}
