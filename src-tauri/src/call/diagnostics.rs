//! The diagnostics panel's "Export": the connection stats and the whole event timeline as
//! one JSON file a tester attaches to a bug report. Tokens are never part of it.

use std::path::{Path, PathBuf};

use convene_call::Diagnostics;

use crate::error::UiError;

/// Environment override of the folder exports go to (tests, portable use); else the
/// user's Downloads folder, else the app's log folder.
pub const EXPORT_DIR_ENV: &str = "CONVENE_EXPORT_DIR";

/// Where exports go: [`EXPORT_DIR_ENV`] if set, else the first folder of `fallbacks` there
/// is (the user's Downloads folder, then the app's log folder).
pub fn export_folder(
    fallbacks: impl IntoIterator<Item = Option<PathBuf>>,
) -> Result<PathBuf, UiError> {
    std::env::var_os(EXPORT_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| fallbacks.into_iter().flatten().next())
        .ok_or_else(|| UiError::ExportFailed {
            message: "No folder to save the diagnostics in.".to_owned(),
        })
}

/// Writes `diagnostics` as pretty JSON into `dir` (created if missing) as
/// `convene-diagnostics-<unix seconds>.json`; returns the file's path.
pub fn export(diagnostics: &Diagnostics, dir: &Path, now_secs: u64) -> Result<PathBuf, UiError> {
    let failed = |error: &dyn std::fmt::Display| UiError::ExportFailed {
        message: format!(
            "The diagnostics could not be saved in {}: {error}",
            dir.display()
        ),
    };
    std::fs::create_dir_all(dir).map_err(|error| failed(&error))?;
    let path = dir.join(format!("convene-diagnostics-{now_secs}.json"));
    let json = serde_json::to_vec_pretty(diagnostics).map_err(|error| failed(&error))?;
    std::fs::write(&path, json).map_err(|error| failed(&error))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_go_to_the_first_folder_there_is_or_fail_clearly() {
        if std::env::var_os(EXPORT_DIR_ENV).is_some() {
            return; // the override wins; nothing else to check here
        }
        let logs = PathBuf::from("/var/log/convene");
        assert_eq!(
            export_folder([None, Some(logs.clone())]).expect("a folder"),
            logs
        );
        assert!(matches!(
            export_folder([None, None]),
            Err(UiError::ExportFailed { .. })
        ));
    }

    #[test]
    fn an_export_is_a_json_file_with_the_timeline_and_a_bad_folder_says_where() {
        let dir = std::env::temp_dir().join(format!("convene-export-{}", std::process::id()));
        let timeline = convene_call::Timeline::default();
        timeline.record(serde_json::json!({"event": "reconnecting", "kind": "resume"}));
        let diagnostics = Diagnostics {
            timeline: timeline.entries(),
            ..Diagnostics::default()
        };
        let path = export(&diagnostics, &dir.join("new"), 1_800_000_000).expect("exported");
        assert!(path.ends_with("convene-diagnostics-1800000000.json"));
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(written["timeline"][0]["event"]["kind"], "resume");
        assert!(written["timeline"][0]["atMs"].is_u64());

        let blocked = dir.join("a-file");
        std::fs::write(&blocked, b"").expect("a file where the folder should be");
        let refused = export(&diagnostics, &blocked, 1);
        assert!(
            matches!(&refused, Err(UiError::ExportFailed { message }) if message.contains("a-file")),
            "{refused:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
