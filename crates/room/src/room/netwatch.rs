//! Noticing network changes (an interface going down, a new address after a WiFi ->
//! cellular switch, a VPN coming up) by watching the machine's interface addresses, so the
//! room reconnects at once instead of waiting for the ping timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::mpsc;

use super::engine::Command;

/// How often the addresses are compared.
const POLL: Duration = Duration::from_secs(1);

/// A fingerprint of the network: every non-loopback address with its interface, and (on
/// Linux) each interface's operational state, so a link going down is seen even though its
/// address stays configured.
fn addresses() -> BTreeSet<String> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .into_iter()
            .filter(|i| !i.is_loopback())
            .map(|i| format!("{}/{}/{}", i.name, i.ip(), link_state(&i.name)))
            .collect(),
        Err(error) => {
            tracing::debug!(%error, "cannot list network interfaces");
            BTreeSet::new()
        }
    }
}

/// `up`, `down`, `lowerlayerdown`… from sysfs; empty where there is no such file.
fn link_state(interface: &str) -> String {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/operstate"))
        .map(|state| state.trim().to_owned())
        .unwrap_or_default()
}

/// Watches until the room is gone, sending [`Command::NetworkChanged`] on every change.
pub(crate) fn spawn(commands: mpsc::WeakSender<Command>) {
    tokio::spawn(async move {
        let mut known = addresses();
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let Some(commands) = commands.upgrade() else {
                return;
            };
            let now = addresses();
            if now != known {
                tracing::info!(before = ?known, after = ?now, "network changed");
                known = now;
                let _ = commands.try_send(Command::NetworkChanged);
            }
        }
    });
}
