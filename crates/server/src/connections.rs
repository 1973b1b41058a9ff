//! How the daemon serves its HTTP connections so that no client can take
//! it down, nor make a rotation fail: a client that sends half a request,
//! or opens a connection and never uses it, is cut off after
//! [`Limits::header_timeout`]; no connection lives past
//! [`Limits::lifetime`]; one client (see [`Client::group`]) holds at most
//! [`Limits::per_client`] connections, and everyone together at most
//! [`Limits::connections`], well below the process's open-file limit (the
//! store, the leases and the targets need files too). Connections past
//! the total wait in the kernel's backlog, unread; past a client's share
//! they are closed at once.

use super::listener::Client;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// Connections one client may hold at once.
    pub per_client: usize,
    /// How long a client has to send a request's headers, and how long a
    /// kept-alive connection may wait for its next request.
    pub header_timeout: Duration,
    /// How long a connection may live; it is then closed once its
    /// request in progress is answered.
    pub lifetime: Duration,
}

impl Limits {
    /// For a process that may hold `files` open files (`None`: no limit):
    /// at most a quarter of them, and at most 1,024; a client may hold a
    /// 32nd of that (at least 4), so it takes more than 32 addresses to
    /// fill the daemon, and a client from yet another still gets in.
    pub fn for_file_limit(files: Option<u64>) -> Self {
        let share = files.map_or(1024, |files| usize::try_from(files / 4).unwrap_or(usize::MAX));
        let connections = share.clamp(16, 1024);
        Self {
            connections,
            per_client: (connections / 32).max(4),
            header_timeout: Duration::from_secs(10),
            lifetime: Duration::from_secs(300),
        }
    }
}

/// How long a connection past its lifetime may take to finish its answer.
const CLOSING: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` within `limits`, until the task is dropped.
pub async fn serve<L>(mut listener: L, app: Router, limits: Limits)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let slots = Arc::new(Semaphore::new(limits.connections));
    let held: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (io, addr) = listener.accept().await;
        let client = Client(addr);
        let Some(share) = Share::take(&held, client.group(), limits.per_client) else {
            tracing::debug!("closing a connection from {addr}: it holds {} already", limits.per_client);
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(client));
            let mut app = app.clone();
            async move { tower_service::Service::call(&mut app, request).await }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(io), service);
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = tokio::time::sleep(limits.lifetime) => {
                    connection.as_mut().graceful_shutdown();
                    tokio::time::timeout(CLOSING, connection).await.unwrap_or(Ok(()))
                }
            };
            if let Err(e) = ended {
                tracing::debug!("connection from {addr}: {e}");
            }
            drop((share, slot));
        });
    }
}

/// One connection of a client's share, given back when dropped.
struct Share {
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
    group: IpAddr,
}

impl Share {
    /// A connection for `group`, unless it holds `most` already.
    fn take(held: &Arc<Mutex<HashMap<IpAddr, usize>>>, group: IpAddr, most: usize) -> Option<Self> {
        let mut counts = held.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(group).or_default();
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(Self { held: held.clone(), group })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut counts = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.group) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_well_below_the_file_limit() {
        assert_eq!(Limits::for_file_limit(Some(1024)).connections, 256);
        assert_eq!(Limits::for_file_limit(Some(1024)).per_client, 8);
        assert_eq!(Limits::for_file_limit(None).per_client, 32);
        assert_eq!(Limits::for_file_limit(Some(1 << 20)).connections, 1024);
        assert_eq!(Limits::for_file_limit(None).connections, 1024);
        assert_eq!(Limits::for_file_limit(Some(20)).connections, 16);
    }

    #[test]
    fn a_client_share_is_bounded_and_given_back() {
        let held = Arc::default();
        let group: IpAddr = [192, 0, 2, 1].into();
        let shares: Vec<Share> = (0..3).filter_map(|_| Share::take(&held, group, 2)).collect();
        assert_eq!(shares.len(), 2);
        drop(shares);
        assert!(held.lock().unwrap().is_empty());
        assert!(Share::take(&held, group, 2).is_some());
    }
}
