//! One tunnel: a TCP (or TLS) connection to a TURN server carrying one UDP socket's
//! datagrams for it, both ways.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::framing::{Deframer, Framer};
use super::{TurnTransport, TurnTunnels, TurnUrl};

/// Longest wait for the TCP and TLS handshakes (the TURN client gives up on its Allocate
/// after about as long).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer size: a video packet relayed as ChannelData fits several times.
const READ_CHUNK: usize = 16 * 1024;

/// A datagram that arrived from a tunnel, with the stand-in address it seems to come from.
pub(super) type Arrival = (SocketAddr, Bytes);

/// Once `gate` opens (if any), carries `outgoing` datagrams to `server` and its messages to
/// `arrivals` (as from `stand_in`) until either side ends: the socket is dropped
/// (`outgoing` closes), the server closes, or the stream breaks. Datagrams queue (and the
/// TURN client retransmits) while the gate is shut; it never opens when UDP works, and the
/// task ends with the peer connection.
pub(super) async fn run(
    tunnels: Arc<TurnTunnels>,
    server: TurnUrl,
    stand_in: SocketAddr,
    gate: Option<watch::Receiver<bool>>,
    outgoing: mpsc::Receiver<Bytes>,
    arrivals: mpsc::Sender<Arrival>,
) {
    if let Some(mut gate) = gate
        && gate.wait_for(|open| *open).await.is_err()
    {
        return;
    }
    let address = format!("{}:{}", server.host, server.port);
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address)).await;
    let tcp = match connected {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => {
            tracing::info!(%address, %error, "TURN server unreachable over TCP");
            return;
        }
        Err(_) => {
            tracing::info!(%address, "TURN server did not accept a TCP connection in time");
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    if server.transport != TurnTransport::Tls {
        tracing::debug!(%address, "TURN over TCP connected");
        return carry(tcp, stand_in, outgoing, arrivals).await;
    }
    let handshake = tunnels.tls().connect(&server.host, tcp);
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(Ok(tls)) => {
            tracing::debug!(%address, "TURN over TLS connected");
            carry(tls, stand_in, outgoing, arrivals).await;
        }
        Ok(Err(error)) => tracing::info!(%address, %error, "TLS to the TURN server failed"),
        Err(_) => tracing::info!(%address, "TLS handshake with the TURN server timed out"),
    }
}

async fn carry(
    stream: impl AsyncRead + AsyncWrite + Send,
    stand_in: SocketAddr,
    mut outgoing: mpsc::Receiver<Bytes>,
    arrivals: mpsc::Sender<Arrival>,
) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let send = async {
        let mut framer = Framer::default();
        while let Some(datagram) = outgoing.recv().await {
            if let Some(framed) = framer.frame(&datagram)
                && let Err(error) = writer.write_all(&framed).await
            {
                tracing::info!(%error, "TURN tunnel write failed");
                return;
            }
        }
        let _ = writer.shutdown().await;
    };
    let receive = async {
        let mut deframer = Deframer::default();
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            let read = match reader.read(&mut chunk).await {
                Ok(0) => return tracing::info!("the TURN server closed the tunnel"),
                Ok(read) => read,
                Err(error) => return tracing::info!(%error, "TURN tunnel read failed"),
            };
            deframer.push(&chunk[..read]);
            loop {
                match deframer.next_message() {
                    Ok(Some(message)) => {
                        if arrivals.send((stand_in, message)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => return tracing::warn!(%error, "closing the TURN tunnel"),
                }
            }
        }
    };
    tokio::select! {
        () = send => {}
        () = receive => {}
    }
}
