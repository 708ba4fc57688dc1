//! Log set-up. Logs go to stderr and, once the app knows its OS log directory, to a
//! rotating `convene.log` there ([`LogFile::open_in`]); both filtered by `RUST_LOG`
//! (default `info`). Tokens and API secrets must never reach a log line: they travel as
//! `convene_room::Token`, whose `Debug`/`Display` print `[redacted]`, commands never log
//! their arguments, and every line passes through [`redact::redact`] on its way out.

pub mod redact;
pub mod rotating;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use rotating::RotatingFile;

/// The log file, shared by the logger and "copy diagnostics"; empty until opened.
#[derive(Clone, Default)]
pub struct LogFile(Arc<Mutex<Option<RotatingFile>>>);

impl LogFile {
    /// Starts writing to `dir/convene.log` (rotated); returns the file's path.
    pub fn open_in(&self, dir: &Path) -> io::Result<PathBuf> {
        let file = RotatingFile::open(dir)?;
        let path = file.path().to_owned();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
        Ok(path)
    }

    /// Where the log is written, once opened.
    pub fn path(&self) -> Option<PathBuf> {
        self.with_file(|file| file.path().to_owned())
    }

    /// The newest `max_lines` lines of the log (already redacted when written).
    pub fn tail(&self, max_lines: usize) -> String {
        self.with_file(|file| file.tail(max_lines))
            .unwrap_or_default()
    }

    fn with_file<T>(&self, read: impl FnOnce(&RotatingFile) -> T) -> Option<T> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(read)
    }

    fn append(&self, line: &[u8]) {
        if let Some(file) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            // A full disk must not take the app down; stderr still has the line.
            let _ = file.append(line);
        }
    }
}

/// Installs the global subscriber once, at start-up, before any window exists; returns
/// the log file to open when the log directory is known.
pub fn init() -> LogFile {
    let log_file = LogFile::default();
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let to_stderr = tracing_subscriber::fmt::layer()
        .with_writer(Redacting(StderrSink))
        .with_ansi(io::stderr().is_terminal())
        .with_filter(filter());
    let to_file = tracing_subscriber::fmt::layer()
        .with_writer(Redacting(log_file.clone()))
        .with_ansi(false)
        .with_filter(filter());
    // A second call (only possible in tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(to_stderr)
        .with(to_file)
        .try_init();
    log_file
}

/// Where a formatted line ends up.
trait LineSink: Clone + Send + Sync + 'static {
    fn write_line(&self, line: &[u8]);
}

#[derive(Clone)]
struct StderrSink;

impl LineSink for StderrSink {
    fn write_line(&self, line: &[u8]) {
        let _ = io::stderr().write_all(line);
    }
}

impl LineSink for LogFile {
    fn write_line(&self, line: &[u8]) {
        self.append(line);
    }
}

/// Hands each formatted event (one `write` per event) to `S` with secrets redacted.
#[derive(Clone)]
struct Redacting<S>(S);

impl<'a, S: LineSink> MakeWriter<'a> for Redacting<S> {
    type Writer = Redacting<S>;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl<S: LineSink> Write for Redacting<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_line(redact::redact(&text).as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_redacted() {
        let dir = std::env::temp_dir().join(format!("convene-logfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = LogFile::default();
        assert_eq!(log.tail(10), "", "nothing before the file is opened");
        let path = log.open_in(&dir).expect("open");
        let mut writer = Redacting(log.clone()).make_writer();
        writer
            .write_all(b"joining wss://x/rtc?access_token=eyJa.eyJb.c2ln now\n")
            .expect("write");
        assert_eq!(log.path(), Some(path));
        assert_eq!(
            log.tail(10),
            "joining wss://x/rtc?access_token=[redacted] now"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
