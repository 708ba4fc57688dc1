//! The runtime a peer connection with TCP/TLS TURN servers uses: webrtc-rs's tokio runtime,
//! except that its UDP sockets can tunnel (see the module above).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

use tokio::sync::watch;

use super::TurnTunnels;
use super::socket::TunnelingUdpSocket;

/// Delegates everything to [`TokioRuntime`] and wraps its UDP sockets.
#[derive(Debug)]
pub struct TunnelingRuntime {
    inner: TokioRuntime,
    tunnels: Arc<TurnTunnels>,
    gate: Option<watch::Receiver<bool>>,
}

impl TunnelingRuntime {
    /// A runtime whose sockets tunnel to `tunnels`' servers; each tunnel connects once `gate`
    /// is open (`None`: at once), so TURN over TCP/TLS comes after the UDP paths.
    pub fn new(tunnels: Arc<TurnTunnels>, gate: Option<watch::Receiver<bool>>) -> Self {
        Self {
            inner: TokioRuntime,
            tunnels,
            gate,
        }
    }
}

impl Runtime for TunnelingRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let inner = self.inner.wrap_udp_socket(socket)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        Ok(Arc::new(TunnelingUdpSocket::new(
            inner,
            Arc::clone(&self.tunnels),
            self.gate.clone(),
            runtime,
        )))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (TURN over TCP/TLS)"
    }
}
