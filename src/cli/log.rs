//! `ferry log`: the transfer log, newest first.

use crate::fsops::human_bytes;
use crate::protocol::Client;
use crate::protocol::history::{LogEntry, LogQuery};

use super::output::emit;

/// The actions `--action` takes (the transfer log's).
pub const ACTIONS: [&str; 7] = [
    "upload", "download", "move", "delete", "mkdir", "adopt", "forget",
];

/// `ferry log`: `limit` lines of page `page` (from 1).
pub(super) async fn log(
    client: &Client,
    mut query: LogQuery,
    page: usize,
    json: bool,
) -> anyhow::Result<()> {
    let limit = query.limit.unwrap_or(50);
    query.limit = Some(limit);
    query.offset = limit * page.saturating_sub(1);
    let rows = client.log(&query).await?;
    emit(json, &rows, |rows: &Vec<LogEntry>| {
        if rows.is_empty() {
            out!(
                "Nothing logged{}.",
                if page > 1 { " on this page" } else { "" }
            );
        }
        for r in rows {
            out!(
                "{}  {:<8} {:<9} {}  {}{}",
                r.time,
                r.sync,
                r.action,
                r.path,
                r.result,
                if r.bytes > 0 {
                    format!(" ({})", human_bytes(r.bytes))
                } else {
                    String::new()
                }
            );
        }
    })
}
