//! The transfer log as the API lists it: every synchronization's journal,
//! merged newest first.

use super::{Daemon, Result};

use crate::protocol::history::{LogEntry, LogQuery};

pub(super) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl Daemon {
    /// The transfer log, newest first.
    pub async fn log(&self, q: LogQuery) -> Result<Vec<LogEntry>> {
        let syncs = match &q.sync {
            Some(s) => vec![self.find(s).await?],
            None => self.config().await.syncs,
        };
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let mut all = Vec::new();
        for s in syncs {
            let (action, search) = (q.action.clone(), q.search.clone());
            // Enough rows of each to fill the page after merging.
            let want = q.offset + limit;
            let rows = self
                .with_journal(&s.id, move |j| {
                    j.log_page(action.as_deref(), search.as_deref(), want, 0)
                })
                .await?;
            all.extend(
                rows.into_iter()
                    .map(|r| (r.time, (s.name.clone(), s.id.clone()), r)),
            );
        }
        all.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(all
            .into_iter()
            .skip(q.offset)
            .take(limit)
            .map(|(_, (sync, sync_id), r)| LogEntry {
                sync,
                sync_id,
                time: rfc3339(r.time),
                action: r.action,
                path: r.path,
                bytes: r.bytes,
                result: r.result,
            })
            .collect())
    }
}
