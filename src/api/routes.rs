//! The API's routes: parse the request into its [`crate::protocol`] type,
//! call the [`Daemon`], answer with the protocol's type as JSON. Errors are
//! [`ErrorBody`] (`{"error": message, "code": code}`) with a matching
//! status. `docs/api.md` lists every route; keep it in step.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::daemon::{Daemon, DaemonError};
use crate::protocol::accounts::{Folders, NewAccount, NewPassword, RemovedAccount};
use crate::protocol::history::{Conflict, LogEntry, LogQuery, OpenItem, Resolve};
use crate::protocol::manage::{FilterList, PreviewRequest};
use crate::protocol::settings::{
    Autostart, CheckLocalRequest, Diagnostics, Settings, SettingsPatch,
};
use crate::protocol::status::{Event, ListedStatus, Status, overall};
use crate::protocol::syncs::{
    NewSync, RemovedSync, RunRequest, RunResult, Started, SyncEntry, SyncPatch,
};
use crate::protocol::why::{Why, WhyRequest};
use crate::protocol::{Done, ErrorBody, Health};

#[derive(Clone)]
struct App {
    daemon: Arc<Daemon>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

/// An error answer.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code.to_string(),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<DaemonError> for ApiError {
    fn from(e: DaemonError) -> Self {
        let (status, code) = match &e {
            DaemonError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            DaemonError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            DaemonError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            DaemonError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            DaemonError::Refused { code, .. } => (StatusCode::CONFLICT, *code),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

fn created(value: impl serde::Serialize) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

/// Parse a JSON body; an empty body is `{}`.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "bad_request",
        message: format!("invalid JSON body: {e}"),
    })
}

/// The routes, before the security layer.
pub fn router(daemon: Arc<Daemon>, shutdown: tokio::sync::watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/status", get(status))
        .route("/api/events", get(events))
        .route("/api/recent", get(recent))
        .route("/api/accounts", get(accounts).post(add_account))
        .route("/api/accounts/{id}", axum::routing::delete(remove_account))
        .route("/api/accounts/{id}/test", post(test_account))
        .route("/api/accounts/{id}/folders", get(browse))
        .route(
            "/api/accounts/{id}/password",
            axum::routing::put(update_password),
        )
        .route("/api/settings", get(settings).patch(change_settings))
        .route("/api/diagnostics", post(diagnostics))
        .route("/api/check-local", post(check_local))
        .route("/api/simulate", post(simulate_new))
        .route("/api/syncs", get(syncs).post(add_sync))
        .route(
            "/api/syncs/{id}",
            get(sync_one).patch(update_sync).delete(remove_sync),
        )
        .route("/api/syncs/{id}/enable", post(enable))
        .route("/api/syncs/{id}/disable", post(disable))
        .route("/api/syncs/{id}/run", post(run_one))
        .route("/api/syncs/{id}/pause", post(pause_one))
        .route("/api/syncs/{id}/resume", post(resume_one))
        .route("/api/syncs/{id}/confirm", post(confirm))
        .route("/api/syncs/{id}/cancel", post(cancel))
        .route("/api/syncs/{id}/simulate", post(simulate))
        .route("/api/syncs/{id}/folders", get(sync_folders))
        .route("/api/syncs/{id}/filters/preview", post(preview_filters))
        .route("/api/syncs/{id}/open", post(open_local))
        .route("/api/filters/check", post(check_filters))
        .route("/api/filters/builtin", get(builtin_rules))
        .route("/api/run", post(run_all))
        .route("/api/pause", post(pause_all))
        .route("/api/resume", post(resume_all))
        .route("/api/log", get(log))
        .route("/api/conflicts", get(conflicts))
        .route("/api/conflicts/resolve", post(resolve))
        .route("/api/why", post(why))
        .route("/api/open", post(open_item))
        .with_state(App { daemon, shutdown })
}

async fn health() -> ApiResult {
    ok(Health {
        ok: true,
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

async fn status(State(app): State<App>) -> ApiResult {
    let syncs = app.daemon.statuses().await;
    let mut listed = Vec::new();
    for s in &syncs {
        listed.push(ListedStatus {
            never_ran: app.daemon.never_ran(s).await,
            status: s.clone(),
        });
    }
    let open_conflicts = app.daemon.conflicts().await.map(|c| c.len()).unwrap_or(0);
    ok(Status {
        overall: overall(&syncs).to_string(),
        syncs: listed,
        recent: app.daemon.recent(),
        open_conflicts,
        config_warnings: app.daemon.config_warnings(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        notifications: app.daemon.config().await.settings.notifications,
    })
}

async fn recent(State(app): State<App>) -> ApiResult {
    ok(app.daemon.recent())
}

/// Server-sent events: first the state of every synchronization, then
/// each change and transfer as it happens. A client that falls behind
/// gets a `lagged` event and should re-read `/api/status`.
async fn events(State(app): State<App>) -> Response {
    let initial: Vec<Event> = app
        .daemon
        .statuses()
        .await
        .into_iter()
        .map(|sync| Event::State {
            sync: Box::new(sync),
        })
        .collect();
    let rx = app.daemon.events();
    let shutdown = app.shutdown.clone();
    let first = futures_util::stream::iter(initial.into_iter().map(to_sse));
    let live = futures_util::stream::unfold((rx, shutdown), |(mut rx, mut shutdown)| async move {
        if *shutdown.borrow() {
            return None;
        }
        tokio::select! {
            r = rx.recv() => match r {
                Ok(ev) => Some((to_sse(ev), (rx, shutdown))),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    Some((to_sse(Event::Lagged { missed }), (rx, shutdown)))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
            },
            _ = shutdown.changed() => None,
        }
    });
    use futures_util::StreamExt;
    Sse::new(first.chain(live))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn to_sse(ev: Event) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().data(serde_json::to_string(&ev).unwrap_or_default()))
}

// ---------------------------------------------------------------- accounts --

async fn accounts(State(app): State<App>) -> ApiResult {
    ok(app.daemon.config().await.accounts)
}

async fn add_account(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let a: NewAccount = body(&bytes)?;
    let (secret, kind) = crate::protocol::accounts::secret_of(a.password, a.token)
        .map_err(crate::daemon::DaemonError::BadRequest)?;
    let account = app
        .daemon
        .add_account(&a.url, &a.user, secret, kind, a.test)
        .await?;
    created(account)
}

async fn test_account(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    app.daemon.test_account(&id).await?;
    ok(Done::OK)
}

async fn remove_account(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let (account, removed) = app.daemon.remove_account(&id).await?;
    ok(RemovedAccount {
        account,
        removed_syncs: removed,
    })
}

async fn update_password(
    State(app): State<App>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let p: NewPassword = body(&bytes)?;
    let kind = p
        .token
        .is_some()
        .then_some(crate::protocol::accounts::SecretKind::Token);
    let (secret, _) = crate::protocol::accounts::secret_of(p.password, p.token)
        .map_err(crate::daemon::DaemonError::BadRequest)?;
    ok(app.daemon.update_password(&id, secret, kind).await?)
}

#[derive(Deserialize)]
struct Browse {
    #[serde(default)]
    path: String,
}

async fn browse(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<Browse>,
) -> ApiResult {
    let folders = app.daemon.browse(&id, &q.path).await?;
    ok(Folders {
        path: q.path,
        folders,
    })
}

// ------------------------------------------------------------------- syncs --

async fn syncs(State(app): State<App>) -> ApiResult {
    let statuses = app.daemon.statuses().await;
    let list: Vec<SyncEntry> = app
        .daemon
        .config()
        .await
        .syncs
        .into_iter()
        .map(|config| {
            let status = statuses.iter().find(|st| st.id == config.id).cloned();
            SyncEntry { config, status }
        })
        .collect();
    ok(list)
}

async fn sync_one(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let config = app.daemon.find(&id).await?;
    let status = app.daemon.status(&config.id).await.ok();
    ok(SyncEntry { config, status })
}

async fn add_sync(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let new: NewSync = body(&bytes)?;
    created(app.daemon.add_sync(new).await?)
}

async fn update_sync(State(app): State<App>, Path(id): Path<String>, bytes: Bytes) -> ApiResult {
    let patch: SyncPatch = body(&bytes)?;
    ok(app.daemon.update_sync(&id, &patch).await?)
}

async fn remove_sync(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let removed = app.daemon.remove_sync(&id).await?;
    ok(RemovedSync {
        removed: removed.name,
        kept: vec![removed.local],
    })
}

async fn enable(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    ok(app
        .daemon
        .update_sync(&id, &SyncPatch::enabled(true))
        .await?)
}

async fn disable(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    ok(app
        .daemon
        .update_sync(&id, &SyncPatch::enabled(false))
        .await?)
}

fn started() -> ApiResult {
    Ok((StatusCode::ACCEPTED, axum::Json(Started { started: true })).into_response())
}

async fn run_one(State(app): State<App>, Path(id): Path<String>, bytes: Bytes) -> ApiResult {
    let r: RunRequest = body(&bytes)?;
    match app.daemon.run(&id, r.wait).await? {
        Some(summary) => ok(summary),
        None => started(),
    }
}

async fn run_all(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let r: RunRequest = body(&bytes)?;
    let results = app.daemon.run_all(r.parallel, r.wait).await?;
    let list: Vec<RunResult> = results
        .into_iter()
        .map(|(sync, r)| match r {
            Ok(summary) => RunResult {
                sync,
                ok: true,
                summary: Some(summary),
                error: None,
                code: None,
            },
            Err(e) => {
                let e = ApiError::from(e);
                RunResult {
                    sync,
                    ok: false,
                    summary: None,
                    error: Some(e.message),
                    code: Some(e.code.to_string()),
                }
            }
        })
        .collect();
    if r.wait { ok(list) } else { started() }
}

async fn pause_one(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    app.daemon.pause(Some(&id)).await?;
    ok(Done::OK)
}

async fn resume_one(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    app.daemon.resume(Some(&id)).await?;
    ok(Done::OK)
}

async fn pause_all(State(app): State<App>) -> ApiResult {
    app.daemon.pause(None).await?;
    ok(Done::OK)
}

async fn resume_all(State(app): State<App>) -> ApiResult {
    app.daemon.resume(None).await?;
    ok(Done::OK)
}

async fn confirm(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    app.daemon.confirm(&id).await?;
    ok(Done::OK)
}

async fn cancel(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    app.daemon.cancel(&id).await?;
    ok(Done::OK)
}

async fn simulate(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    ok(crate::pass_report::report(&app.daemon.simulate(&id).await?))
}

// ------------------------------------------- selective sync and filters --

async fn sync_folders(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<Browse>,
) -> ApiResult {
    ok(app.daemon.sync_folders(&id, &q.path).await?)
}

async fn check_filters(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let list: FilterList = body(&bytes)?;
    ok(app.daemon.check_filters(&list.filters))
}

async fn builtin_rules(State(app): State<App>) -> ApiResult {
    ok(app.daemon.builtin_rules())
}

async fn preview_filters(
    State(app): State<App>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let r: PreviewRequest = body(&bytes)?;
    ok(app.daemon.preview_filters(&id, &r.filters, r.limit).await?)
}

async fn open_local(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    app.daemon.open_local(&id).await?;
    ok(Done::OK)
}

/// `POST /api/simulate`: what the first pass of a synchronization not
/// added yet would do (the setup assistant's last page); nothing is saved
/// or touched.
async fn simulate_new(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let new: NewSync = body(&bytes)?;
    ok(crate::pass_report::report(
        &app.daemon.simulate_new(&new).await?,
    ))
}

// ---------------------------------------------------------------- settings --

/// Auto-start at login as the system sees it (the desktop's entry).
async fn autostart_state() -> Autostart {
    let read =
        tokio::task::spawn_blocking(|| (crate::autostart::status(), crate::autostart::location()))
            .await;
    let (status, location) = match read {
        Ok(r) => r,
        Err(e) => (Err(anyhow::anyhow!("{e}")), None),
    };
    let file = location.map(|p| p.display().to_string());
    match status {
        Ok(crate::autostart::Status::On { .. }) => Autostart {
            on: true,
            off_in_desktop_settings: false,
            file,
            error: None,
        },
        Ok(crate::autostart::Status::Off) => Autostart {
            on: false,
            off_in_desktop_settings: false,
            file: None,
            error: None,
        },
        Ok(crate::autostart::Status::OffInDesktopSettings { file }) => Autostart {
            on: false,
            off_in_desktop_settings: true,
            file: Some(file.display().to_string()),
            error: None,
        },
        Err(e) => Autostart {
            on: false,
            off_in_desktop_settings: false,
            file,
            error: Some(format!("{e:#}")),
        },
    }
}

fn settings_of(s: crate::config::AppSettings, autostart: Autostart) -> Settings {
    Settings {
        autostart,
        notifications: s.notifications,
        start_all_parallel: s.start_all_parallel,
        default_poll_interval_secs: s.default_poll_interval_secs,
        bandwidth: s.bandwidth,
    }
}

async fn settings(State(app): State<App>) -> ApiResult {
    let s = app.daemon.config().await.settings;
    ok(settings_of(s, autostart_state().await))
}

/// `PATCH /api/settings`: the configuration's settings (checked first),
/// then auto-start (the desktop's entry; the choice is recorded like
/// `ferry autostart on|off`).
async fn change_settings(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let patch: SettingsPatch = body(&bytes)?;
    let s = app.daemon.change_settings(&patch).await?;
    if let Some(on) = patch.autostart {
        let config_dir = app.daemon.config_dir().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let program = std::env::current_exe()?;
            crate::autostart::choose(on, &program, &config_dir)
        })
        .await
        .map_err(|e| DaemonError::Internal(e.to_string()))?
        .map_err(|e| DaemonError::Internal(format!("{e:#}")))?;
    }
    ok(settings_of(s, autostart_state().await))
}

async fn diagnostics(State(app): State<App>) -> ApiResult {
    let bundle = app.daemon.write_diagnostics().await?;
    ok(Diagnostics {
        path: bundle.path.display().to_string(),
        files: bundle.files.len(),
        bytes: bundle.bytes,
    })
}

async fn check_local(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let r: CheckLocalRequest = body(&bytes)?;
    ok(app.daemon.check_local(&r.path).await?)
}

// ------------------------------------------------------- log and conflicts --

async fn log(State(app): State<App>, Query(q): Query<LogQuery>) -> ApiResult {
    let lines: Vec<LogEntry> = app.daemon.log(q).await?;
    ok(lines)
}

async fn conflicts(State(app): State<App>) -> ApiResult {
    let open: Vec<Conflict> = app.daemon.conflicts().await?;
    ok(open)
}

async fn resolve(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let r: Resolve = body(&bytes)?;
    app.daemon.resolve(&r.sync, r.id, r.keep).await?;
    ok(Done::OK)
}

async fn why(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let w: WhyRequest = body(&bytes)?;
    let why: Why = app.daemon.why(&w.path).await?;
    ok(why)
}

async fn open_item(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let o: OpenItem = body(&bytes)?;
    app.daemon.open_item(&o.sync, &o.path).await?;
    ok(Done::OK)
}
