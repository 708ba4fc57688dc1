//! Settings kept between runs, as JSON in the OS config directory (e.g.
//! `~/.config/app.convene.desktop/settings.json` on Linux).
//!
//! Only what is not secret: the servers joined recently, for the join screen, and the
//! devices last used (with whether the microphone and camera were on). Tokens are
//! never written anywhere (they are short-lived credentials; a new one is pasted or comes
//! with a link each time).

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::call::MediaChoice;

/// Servers remembered at most.
const RECENT_SERVERS: usize = 5;

/// What is saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Server URLs joined recently, newest first.
    pub recent_servers: Vec<String>,
    /// The devices of the last call, and whether the microphone and camera were on.
    pub media: MediaChoice,
}

/// The settings file: read once, written on every change. A missing or unreadable file
/// means defaults (never an error that stops the app).
pub struct SettingsStore {
    path: Mutex<Option<PathBuf>>,
    settings: Mutex<Settings>,
}

impl SettingsStore {
    /// Loads `path` (`None`: keep settings in memory only, e.g. no config directory).
    pub fn load(path: Option<PathBuf>) -> Self {
        let settings = path
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            path: Mutex::new(path),
            settings: Mutex::new(settings),
        }
    }

    /// Switches to the file at `path` (once the OS config directory is known, at start-up)
    /// and loads it.
    pub fn open(&self, path: PathBuf) {
        let loaded = Self::load(Some(path.clone()));
        *self.lock() = loaded.lock().clone();
        *self
            .path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(path);
    }

    /// Where the settings are saved (`None`: in memory only).
    pub fn path(&self) -> Option<PathBuf> {
        self.path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The recent servers, newest first.
    pub fn recent_servers(&self) -> Vec<String> {
        self.lock().recent_servers.clone()
    }

    /// Puts `url` first in the recent servers (after a successful join) and saves.
    pub fn remember_server(&self, url: &str) {
        let snapshot = {
            let mut settings = self.lock();
            settings.recent_servers.retain(|known| known != url);
            settings.recent_servers.insert(0, url.to_owned());
            settings.recent_servers.truncate(RECENT_SERVERS);
            settings.clone()
        };
        self.save(&snapshot);
    }

    /// The devices (and on/off) of the last call.
    pub fn media(&self) -> MediaChoice {
        self.lock().media.clone()
    }

    /// Remembers the devices of a call (on joining and on every change) and saves.
    pub fn remember_media(&self, media: &MediaChoice) {
        let snapshot = {
            let mut settings = self.lock();
            if settings.media == *media {
                return;
            }
            settings.media = media.clone();
            settings.clone()
        };
        self.save(&snapshot);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save(&self, settings: &Settings) {
        let path = self
            .path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(path) = path else {
            return;
        };
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let path = &path;
                let json = serde_json::to_vec_pretty(settings).unwrap_or_default();
                // Write then rename: a crash never leaves half a file.
                let partial = path.with_extension("json.partial");
                std::fs::write(&partial, json).and_then(|()| std::fs::rename(&partial, path))
            });
        if let Err(error) = written {
            tracing::warn!(%error, path = %path.display(), "cannot save settings");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_servers_survive_a_restart_newest_first_without_duplicates() {
        let dir = std::env::temp_dir().join(format!("convene-settings-{}", std::process::id()));
        let path = dir.join("settings.json");
        let _ = std::fs::remove_dir_all(&dir);
        let store = SettingsStore::load(None);
        store.open(path.clone());
        assert!(store.recent_servers().is_empty(), "no file: defaults");
        for n in 0..7 {
            store.remember_server(&format!("wss://server{n}.example"));
        }
        store.remember_server("wss://server3.example");
        let again = SettingsStore::load(Some(path.clone()));
        assert_eq!(
            again.recent_servers(),
            [
                "wss://server3.example",
                "wss://server6.example",
                "wss://server5.example",
                "wss://server4.example",
                "wss://server2.example"
            ]
        );
        let media = MediaChoice {
            camera: false,
            ..MediaChoice::default()
        };
        store.remember_media(&media);
        assert_eq!(SettingsStore::load(Some(path.clone())).media(), media);
        let saved = std::fs::read_to_string(&path).expect("saved");
        assert!(!saved.contains("token"), "{saved}");
        std::fs::write(&path, b"{ not json").expect("corrupt it");
        assert!(SettingsStore::load(Some(path)).recent_servers().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
