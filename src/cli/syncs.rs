//! Managing synchronizations through the daemon: `ferry add`, `list`,
//! `remove`, `enable`, `disable`, `pause`, `resume`, `confirm`.

use std::path::PathBuf;

use anyhow::bail;

use super::args::{SettingsArgs, compare_name, conflict_name, direction_name};
use super::output::{describe_remote, emit};
use crate::config::{Place, RemoteSpec};
use crate::protocol::Client;
use crate::protocol::syncs::{NewSync, SyncEntry, SyncSettings};

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// A name for it (unique).
    pub name: String,
    /// The local folder: a path or a file:// URL (created on the first pass
    /// if missing).
    pub local: PathBuf,
    /// The remote folder: a URL at or under an account's URL (see `ferry
    /// account list`), or a folder path or file:// URL.
    pub remote: String,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Poll the remote every SECS seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub poll: u64,
    /// Do not watch for changes: only scheduled (--every) or manual passes.
    #[arg(long)]
    pub no_live: bool,
    /// Run a pass every SECS seconds (with --no-live).
    #[arg(long, value_name = "SECS")]
    pub every: Option<u64>,
    /// Create it turned off.
    #[arg(long)]
    pub disabled: bool,
    /// Create the remote folder if it does not exist (on the first pass).
    /// Without it, a missing remote folder stops the first pass until you
    /// confirm: it is often a typo.
    #[arg(long)]
    pub create: bool,
}

/// `ferry add`.
pub(super) async fn add(client: &Client, args: &AddArgs) -> anyhow::Result<()> {
    let new = new_sync(client, args).await?;
    let created = client.add_sync(&new).await?;
    out!(
        "Added {:?}: {} <-> {} (id {}).",
        created.name,
        created.local.display(),
        describe_remote(&created.remote),
        created.id
    );
    if let (false, Ok(Place::Folder(remote))) = (args.create, Place::parse(&args.remote))
        && !remote.exists()
    {
        out!(
            "The remote folder {} does not exist: the first pass waits for `ferry confirm {}` to create it (or add with --create).",
            remote.display(),
            created.name
        );
    }
    Ok(())
}

/// The request of `ferry add`: a WebDAV URL becomes the account whose URL
/// is its longest prefix (segment by segment) plus the path below it.
async fn new_sync(client: &Client, a: &AddArgs) -> anyhow::Result<NewSync> {
    // One normal form per place (and `htp://…` refused) before anything
    // is saved.
    let local = crate::config::local_folder(&a.local)?;
    let remote = match Place::parse(&a.remote)? {
        Place::WebDav(url) => {
            let accounts = client.accounts().await?;
            let Some((account, rel)) = crate::config::account_for_url(&accounts, &url) else {
                bail!(
                    "no account covers {url}: add one first with `ferry account add URL --user NAME`"
                );
            };
            RemoteSpec::WebDav {
                account: account.id.clone(),
                path: rel,
            }
        }
        Place::Folder(path) => RemoteSpec::Folder { path },
    };
    Ok(NewSync {
        name: a.name.clone(),
        local,
        remote,
        create_remote_root: a.create,
        settings: SyncSettings {
            direction: Some(a.settings.direction()),
            conflict: Some(a.settings.conflict()),
            compare: Some(a.settings.compare()),
            live: Some(!a.no_live),
            poll_interval_secs: Some(a.poll.max(1)),
            schedule_secs: Some(a.every),
            filters: Some(a.settings.filters()),
            deselected: Some(a.settings.deselect.clone()),
            enabled: Some(!a.disabled),
            ..SyncSettings::default()
        },
    })
}

/// `ferry list`.
pub(super) async fn list(client: &Client, json: bool) -> anyhow::Result<()> {
    let list = client.syncs().await?;
    emit(json, &list, |list: &Vec<SyncEntry>| {
        if list.is_empty() {
            out!("No synchronizations. Add one with `ferry add NAME LOCAL REMOTE`.");
        }
        for s in list {
            let c = &s.config;
            out!(
                "{}  {} <-> {}  [{}; {}; {}; {}{}]  {}",
                c.name,
                c.local.display(),
                describe_remote(&c.remote),
                direction_name(c.direction),
                conflict_name(c.conflict),
                compare_name(c.compare),
                if c.live { "live" } else { "not live" },
                if c.enabled { "" } else { "; disabled" },
                s.status.as_ref().map(|st| st.state.name()).unwrap_or("-")
            );
        }
    })
}

/// `ferry remove`.
pub(super) async fn remove(client: &Client, name: &str) -> anyhow::Result<()> {
    let r = client.remove_sync(name).await?;
    out!("Removed {}. Its folders were left as they are.", r.removed);
    Ok(())
}

/// `ferry enable` (`on`) and `ferry disable`.
pub(super) async fn set_enabled(client: &Client, name: &str, on: bool) -> anyhow::Result<()> {
    client.set_enabled(name, on).await?;
    if on {
        out!("{name} is on.");
    } else {
        out!("{name} is off.");
    }
    Ok(())
}

/// `ferry pause` (`pause`) and `ferry resume`, of one or all.
pub(super) async fn pause(client: &Client, name: Option<&str>, pause: bool) -> anyhow::Result<()> {
    let what = name.unwrap_or("all synchronizations");
    if pause {
        client.pause(name).await?;
        out!("Paused {what}.");
    } else {
        client.resume(name).await?;
        out!("Resumed {what}.");
    }
    Ok(())
}

/// `ferry confirm` (and `--cancel`).
pub(super) async fn confirm(client: &Client, name: &str, cancel: bool) -> anyhow::Result<()> {
    if cancel {
        client.cancel(name).await?;
        out!("Cancelled: {name} is paused. `ferry resume {name}` looks again.");
    } else {
        client.confirm(name).await?;
        out!("Confirmed: {name} proceeds.");
    }
    Ok(())
}
