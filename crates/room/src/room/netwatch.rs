//! Noticing network changes (an interface going down, a new address after a WiFi ->
//! cellular switch, a VPN coming up) by watching the machine's interface addresses, so the
//! room reconnects at once instead of waiting for the ping timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::mpsc;

use super::engine::Command;

/// How often the addresses are compared.
const POLL: Duration = Duration::from_secs(1);

/// The non-loopback addresses that are up, as comparable strings.
fn addresses() -> BTreeSet<String> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .into_iter()
            .filter(|i| !i.is_loopback())
            .map(|i| format!("{}/{}", i.name, i.ip()))
            .collect(),
        Err(error) => {
            tracing::debug!(%error, "cannot list network interfaces");
            BTreeSet::new()
        }
    }
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
