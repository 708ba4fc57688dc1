//! The log file in the OS log directory, rotated by size so it never grows without bound:
//! `convene.log`, then `convene.log.1` … `convene.log.<KEPT>` (oldest), each at most
//! [`RotatingFile::MAX_BYTES`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An append-only log file that rotates itself.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
}

impl RotatingFile {
    /// Size at which the file is rotated.
    pub const MAX_BYTES: u64 = 2 * 1024 * 1024;
    /// Older files kept besides the current one.
    pub const KEPT: usize = 3;
    /// The current file's name.
    pub const FILE_NAME: &'static str = "convene.log";

    /// Opens (or creates) `dir/convene.log` for appending, creating `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        Self::open_with_limit(dir, Self::MAX_BYTES)
    }

    fn open_with_limit(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(Self::FILE_NAME);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            written,
            max_bytes,
        })
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` (one whole log event), rotating first if it would not fit.
    pub fn append(&mut self, line: &[u8]) -> io::Result<()> {
        if self.written > 0 && self.written + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.written += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..Self::KEPT).rev() {
            let from = numbered(n);
            if from.exists() {
                std::fs::rename(&from, numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.written = 0;
        Ok(())
    }

    /// The last `max_lines` lines of the current file (for "copy diagnostics").
    pub fn tail(&self, max_lines: usize) -> String {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(max_lines)..].join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_by_size_and_keeps_a_bounded_number_of_old_files() {
        let dir = std::env::temp_dir().join(format!("convene-log-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut log = RotatingFile::open_with_limit(&dir, 100).expect("open");
        for n in 0..40 {
            log.append(format!("line {n:02} of the log, 30 bytes\n").as_bytes())
                .expect("append");
        }
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "convene.log",
                "convene.log.1",
                "convene.log.2",
                "convene.log.3"
            ]
        );
        for name in &names {
            let size = std::fs::metadata(dir.join(name)).expect("size").len();
            assert!(size <= 100, "{name}: {size} bytes");
        }
        // The newest lines are in the current file, in order.
        assert!(log.tail(1).starts_with("line 39"), "{}", log.tail(1));
        let older = std::fs::read_to_string(dir.join("convene.log.1")).expect("read");
        assert!(
            older
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("line 3"))
        );

        // Reopened, it appends.
        drop(log);
        let mut again = RotatingFile::open_with_limit(&dir, 100).expect("reopen");
        again.append(b"after restart\n").expect("append");
        assert!(again.tail(5).contains("after restart"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
