//! "Copy diagnostics": one text a user can paste into a bug report or a chat with support.
//! It says which build runs where, where its settings and log live, what the call is doing
//! (the diagnostics panel's readings and timeline), and the newest log lines; secrets are
//! redacted twice (when logged, and again here).

use std::path::PathBuf;
use std::sync::Arc;

use crate::call::Calls;
use crate::logging::LogFile;
use crate::logging::redact::redact;
use crate::settings::SettingsStore;

/// How many of the newest log lines the report carries.
pub const LOG_LINES: usize = 200;

/// What the report is made of.
#[derive(Debug, Default)]
pub struct SupportFacts {
    /// Where the settings are saved.
    pub settings: Option<PathBuf>,
    /// Where the log is written.
    pub log: Option<PathBuf>,
    /// The call's diagnostics (connection, tracks, timeline), when in a call.
    pub call: Option<serde_json::Value>,
    /// The newest log lines.
    pub log_tail: String,
}

impl SupportFacts {
    /// Reads everything the report needs from the running app.
    pub async fn gather(calls: &Arc<Calls>, settings: &SettingsStore, log: &LogFile) -> Self {
        let call = match calls.diagnostics().await {
            Ok(diagnostics) => serde_json::to_value(&diagnostics).ok(),
            Err(_) => None,
        };
        Self {
            settings: settings.path(),
            log: log.path(),
            call,
            log_tail: log.tail(LOG_LINES),
        }
    }

    /// The report as plain text, secrets redacted.
    pub fn report(&self) -> String {
        let shown = |path: &Option<PathBuf>| {
            path.as_ref()
                .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string())
        };
        let call = self.call.as_ref().map_or_else(
            || "not in a call".to_owned(),
            |call| serde_json::to_string_pretty(call).unwrap_or_default(),
        );
        let text = format!(
            "Convene {version} on {os} {arch}\n\
             Settings: {settings}\n\
             Log: {log}\n\
             \n\
             Call:\n{call}\n\
             \n\
             Newest log lines:\n{tail}\n",
            version = env!("CARGO_PKG_VERSION"),
            os = std::env::consts::OS,
            arch = std::env::consts::ARCH,
            settings = shown(&self.settings),
            log = shown(&self.log),
            tail = self.log_tail,
        );
        redact(&text).into_owned()
    }
}

/// The report for "Copy diagnostics" (the page puts it on the clipboard).
#[tauri::command]
#[specta::specta]
pub async fn support_report(
    calls: tauri::State<'_, Arc<Calls>>,
    settings: tauri::State<'_, Arc<SettingsStore>>,
    log: tauri::State<'_, LogFile>,
) -> Result<String, crate::error::UiError> {
    Ok(SupportFacts::gather(&calls, &settings, &log).await.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_the_build_the_files_and_the_call_and_hides_secrets() {
        let facts = SupportFacts {
            settings: Some(PathBuf::from(
                "/home/a/.config/app.convene.desktop/settings.json",
            )),
            log: Some(PathBuf::from(
                "/home/a/.local/share/app.convene.desktop/logs/convene.log",
            )),
            call: Some(serde_json::json!({ "room": "standup", "state": "connected" })),
            log_tail: "INFO joined url=wss://x/rtc?access_token=eyJa.eyJb.c2ln".to_owned(),
        };
        let report = facts.report();
        assert!(report.starts_with(&format!("Convene {}", env!("CARGO_PKG_VERSION"))));
        assert!(report.contains("settings.json") && report.contains("convene.log"));
        assert!(report.contains("\"room\": \"standup\""), "{report}");
        assert!(report.contains("access_token=[redacted]"), "{report}");
        assert!(!report.contains("eyJa"), "{report}");

        let idle = SupportFacts::default().report();
        assert!(idle.contains("Settings: (none)") && idle.contains("not in a call"));
    }
}
