//! A peer connection's UDP socket that sends datagrams for stand-in addresses through
//! tunnels and receives the tunnels' datagrams alongside its own.

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Transmit};

use super::TurnTunnels;
use super::stream::{self, Arrival};

/// Datagrams waiting for a tunnel's connection (an Allocate and a few retransmissions while
/// TLS handshakes; media once it runs). More are dropped, as UDP would.
const TUNNEL_QUEUE: usize = 256;
/// Datagrams from the tunnels not yet read by the peer connection.
const ARRIVALS_QUEUE: usize = 256;

/// Wraps the runtime's UDP socket.
#[derive(Debug)]
pub(super) struct TunnelingUdpSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    tunnels: Arc<TurnTunnels>,
    /// Open tunnels by stand-in address; `None` once closed (never reopened).
    open: Mutex<HashMap<SocketAddr, Option<mpsc::Sender<Bytes>>>>,
    arrivals_tx: mpsc::Sender<Arrival>,
    arrivals: Mutex<mpsc::Receiver<Arrival>>,
    gate: Option<watch::Receiver<bool>>,
    runtime: tokio::runtime::Handle,
}

impl TunnelingUdpSocket {
    pub(super) fn new(
        inner: Arc<dyn AsyncUdpSocket>,
        tunnels: Arc<TurnTunnels>,
        gate: Option<watch::Receiver<bool>>,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let (arrivals_tx, arrivals) = mpsc::channel(ARRIVALS_QUEUE);
        Self {
            inner,
            tunnels,
            open: Mutex::new(HashMap::new()),
            arrivals_tx,
            arrivals: Mutex::new(arrivals),
            gate,
            runtime,
        }
    }

    /// Hands `datagram` to the tunnel for `stand_in`, opening it on first use.
    fn send_through_tunnel(&self, stand_in: SocketAddr, datagram: &[u8]) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let tunnel = open.entry(stand_in).or_insert_with(|| {
            let server = self.tunnels.server_for(stand_in)?;
            let (sender, receiver) = mpsc::channel(TUNNEL_QUEUE);
            self.runtime.spawn(stream::run(
                Arc::clone(&self.tunnels),
                server,
                stand_in,
                self.gate.clone(),
                receiver,
                self.arrivals_tx.clone(),
            ));
            Some(sender)
        });
        let Some(sender) = tunnel else { return };
        match sender.try_send(Bytes::copy_from_slice(datagram)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!(%stand_in, "TURN tunnel queue full; datagram dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => *tunnel = None,
        }
    }
}

impl AsyncUdpSocket for TunnelingUdpSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        if self.tunnels.server_for(transmit.destination).is_none() {
            return self.inner.poll_send(cx, transmit);
        }
        match transmit.segment_size {
            Some(size) if size > 0 => {
                for segment in transmit.contents.chunks(size) {
                    self.send_through_tunnel(transmit.destination, segment);
                }
            }
            _ => self.send_through_tunnel(transmit.destination, transmit.contents),
        }
        Poll::Ready(Ok(transmit.contents.len()))
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let arrived = self
            .arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .poll_recv(cx);
        if let Poll::Ready(Some((from, datagram))) = arrived
            && let (Some(buf), Some(slot)) = (bufs.first_mut(), meta.first_mut())
        {
            let len = datagram.len().min(buf.len());
            buf[..len].copy_from_slice(&datagram[..len]);
            let mut filled = RecvMeta::default();
            filled.addr = from;
            filled.len = len;
            filled.stride = len.max(1);
            *slot = filled;
            return Poll::Ready(Ok(1));
        }
        self.inner.poll_recv(cx, bufs, meta)
    }
}
