//! `ferry limit`: the bandwidth limits, global or of one synchronization,
//! shown or changed while transfers run.

use crate::config::{Bandwidth, RateLimit};
use crate::protocol::Client;
use crate::protocol::settings::{BandwidthPatch, SettingsPatch};
use crate::protocol::syncs::{SyncPatch, SyncSettings};

use super::output::emit;

#[derive(clap::Args, Debug)]
pub struct LimitArgs {
    /// Only this synchronization's own limits (name or id); without it,
    /// the global limits every synchronization's transfers share.
    #[arg(long = "sync", value_name = "NAME")]
    pub sync: Option<String>,
    /// The upload limit: KiB/s (a whole number from 1), or `off`.
    #[arg(long, value_name = "KIB/S|off", value_parser = limit_arg, allow_negative_numbers = true)]
    pub up: Option<LimitArg>,
    /// The download limit: KiB/s (a whole number from 1), or `off`.
    #[arg(long, value_name = "KIB/S|off", value_parser = limit_arg, allow_negative_numbers = true)]
    pub down: Option<LimitArg>,
    #[arg(long)]
    pub json: bool,
}

/// A limit as typed: a rate, or none (`off`).
#[derive(Clone, Copy, Debug)]
pub struct LimitArg(Option<RateLimit>);

fn limit_arg(typed: &str) -> Result<LimitArg, String> {
    RateLimit::parse(typed).map(LimitArg)
}

/// `ferry limit`: change what `--up` and `--down` say (nothing: show),
/// then print the limits as they now are.
pub(super) async fn limit(client: &Client, args: &LimitArgs) -> anyhow::Result<()> {
    let patch = (args.up.is_some() || args.down.is_some()).then_some(BandwidthPatch {
        upload_kib_per_sec: args.up.map(|l| l.0),
        download_kib_per_sec: args.down.map(|l| l.0),
    });
    let (what, now) = match &args.sync {
        Some(name) => {
            let config = match patch {
                Some(b) => {
                    let patch = SyncPatch {
                        settings: SyncSettings {
                            bandwidth: Some(b),
                            ..SyncSettings::default()
                        },
                        ..SyncPatch::default()
                    };
                    client.update_sync(name, &patch).await?
                }
                None => client.sync(name).await?.config,
            };
            (format!("{}'s own", config.name), config.bandwidth)
        }
        None => {
            let settings = match patch {
                Some(b) => {
                    let patch = SettingsPatch {
                        bandwidth: Some(b),
                        ..SettingsPatch::default()
                    };
                    client.change_settings(&patch).await?
                }
                None => client.settings().await?,
            };
            ("global".to_string(), settings.bandwidth)
        }
    };
    emit(args.json, &now, |b: &Bandwidth| {
        out!(
            "The {what} limits: upload {}, download {}.",
            describe(b.upload_kib_per_sec),
            describe(b.download_kib_per_sec)
        );
    })
}

fn describe(limit: Option<RateLimit>) -> String {
    limit.map_or_else(|| "no limit".to_string(), |l| l.to_string())
}
