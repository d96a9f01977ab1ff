//! The API's HTTP server: the accept loop on the loopback listener, one
//! hyper HTTP/1 connection per client, and the graceful shutdown.
//!
//! Another user of the computer can reach a loopback port too, so the
//! server does not let idle connections use it up:
//!
//! * a connection that has not sent complete request headers within
//!   [`Limits::header_timeout`] is closed (hyper's header-read timeout:
//!   from the connection's start, and again between requests of a kept-alive
//!   connection);
//! * at most [`Limits::max_waiting`] connections may wait for their first
//!   request at a time; one more closes the one that has waited longest (a
//!   real client sends its request right after connecting, so a flood of
//!   idle connections only ever pushes out its own).
//!
//! A connection leaves the waiting set with its first complete request
//! headers; the token is checked after that by [`super::security`], and a
//! refused request (401, 403) closes its connection after the answer: a
//! connection without the token is never idle outside the waiting set for
//! longer than the header-read timeout.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The connection limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest wait for a request's complete headers.
    pub header_timeout: Duration,
    /// The most connections waiting for their first request at a time.
    pub max_waiting: usize,
}

/// The daemon's limits.
pub const LIMITS: Limits = Limits {
    header_timeout: Duration::from_secs(5),
    max_waiting: 64,
};

/// Connections that have not sent a request yet, oldest first.
#[derive(Default)]
struct Waiting {
    next: u64,
    queue: VecDeque<(u64, CancellationToken)>,
}

impl Waiting {
    /// Add a new connection; close the oldest waiting ones beyond `max`.
    fn admit(&mut self, max: usize) -> (u64, CancellationToken) {
        let id = self.next;
        self.next += 1;
        let token = CancellationToken::new();
        self.queue.push_back((id, token.clone()));
        while self.queue.len() > max.max(1) {
            if let Some((_, oldest)) = self.queue.pop_front() {
                oldest.cancel();
            }
        }
        (id, token)
    }

    /// The connection sent a request (or ended): no longer waiting.
    fn leave(&mut self, id: u64) {
        if let Some(i) = self.queue.iter().position(|(c, _)| *c == id) {
            self.queue.remove(i);
        }
    }
}

fn leave(waiting: &Mutex<Waiting>, id: u64) {
    if let Ok(mut w) = waiting.lock() {
        w.leave(id);
    }
}

/// Serve `router` on `listener` until `stop` completes; then stop
/// accepting, let every connection finish its request in flight and
/// return once all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()> + Send,
) {
    let stopping = CancellationToken::new();
    let waiting = Arc::new(Mutex::new(Waiting::default()));
    // Every connection task holds a sender: when all are dropped, the
    // receiver knows every connection has closed.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather
                    // than spin; the waiting connections time out.
                    tracing::warn!("the API could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (id, evicted) = match waiting.lock() {
            Ok(mut w) => w.admit(limits.max_waiting),
            Err(_) => continue,
        };
        let service = {
            let waiting = waiting.clone();
            let inner = TowerToHyperService::new(router.clone());
            let first = AtomicBool::new(true);
            hyper::service::service_fn(move |req| {
                if first.swap(false, Ordering::Relaxed) {
                    leave(&waiting, id);
                }
                let answer = hyper::service::Service::call(&inner, req);
                async move {
                    let mut response = answer.await?;
                    // A refused request (no or a wrong token, a foreign
                    // Host or Origin) does not keep its connection.
                    if matches!(
                        response.status(),
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    ) {
                        response
                            .headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok::<_, std::convert::Infallible>(response)
                }
            })
        };
        let waiting = waiting.clone();
        let stopping = stopping.clone();
        let open = open_tx.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = evicted.cancelled() => {}
                () = stopping.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            leave(&waiting, id);
            drop(open);
        });
    }
    drop(listener);
    stopping.cancel();
    drop(open_tx);
    let _ = open_rx.recv().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_connection_beyond_the_cap_closes_the_one_waiting_longest() {
        let mut w = Waiting::default();
        let (a, ta) = w.admit(2);
        let (_b, tb) = w.admit(2);
        assert!(!ta.is_cancelled());
        let (_c, tc) = w.admit(2);
        assert!(ta.is_cancelled(), "the oldest waiting connection is closed");
        assert!(!tb.is_cancelled() && !tc.is_cancelled());
        // One that sent its request no longer counts.
        w.leave(a);
        let (d, _) = w.admit(2);
        assert!(tb.is_cancelled());
        w.leave(d);
        assert_eq!(w.queue.len(), 1);
    }
}
