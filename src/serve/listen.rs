//! The accept loop: HTTP/1 connections, at most so many open at once, each closed when it
//! sends no complete request head for a while — so that clients who connect and stay silent
//! (or trickle a header) cannot hold the server's sockets, as they could with no limit on
//! either. Past the limit, new connections wait in the system's listen queue, not refused.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// How many connections and how long each may sit without a request.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConnectionLimits {
    /// Connections open at once.
    pub max_open: usize,
    /// How long a connection may take to send a request's head, counted from when it opens or
    /// from the end of its previous response.
    pub idle: Duration,
}

/// Answer connections on `listener` with `router` until `shutdown` completes; then stop
/// accepting, let each connection finish the request it is answering, and return when every
/// connection has closed.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_open));
    let (closing, closing_seen) = watch::channel(());
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // the semaphore is never closed
            },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: say so, wait a little, go on.
                    eprintln!("oddity serve: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut closing_seen = closing_seen.clone();
        connections.spawn(async move {
            let _slot = slot;
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closing_seen.changed() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = closing.send(());
    while connections.join_next().await.is_some() {}
}
