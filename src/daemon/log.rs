//! The transfer log as the API lists it: every synchronization's journal,
//! merged newest first.

use serde::{Deserialize, Serialize};

use super::{Daemon, Result};

/// A transfer-log query.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogQuery {
    pub sync: Option<String>,
    pub action: Option<String>,
    pub search: Option<String>,
    #[serde(default)]
    pub offset: usize,
    pub limit: Option<usize>,
}

/// A transfer-log line as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub sync: String,
    /// RFC 3339.
    pub time: String,
    pub action: String,
    pub path: String,
    pub bytes: u64,
    pub result: String,
}

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
            all.extend(rows.into_iter().map(|r| (r.time, s.name.clone(), r)));
        }
        all.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(all
            .into_iter()
            .skip(q.offset)
            .take(limit)
            .map(|(_, sync, r)| LogEntry {
                sync,
                time: rfc3339(r.time),
                action: r.action,
                path: r.path,
                bytes: r.bytes,
                result: r.result,
            })
            .collect())
    }
}
