//! Keeps a join link's token off this process's command line.
//!
//! The OS starts Convene with a clicked `convene://join?…&token=…` link as an argument. A
//! second instance hands it to the running one and exits at once (single-instance plugin);
//! the first instance takes the link, then overwrites it in its own argument memory, so
//! `ps` and `/proc/<pid>/cmdline` (readable by every local user on a stock Linux) show only
//! `convene://join` for the rest of the call. This is what `setproctitle` does; it goes
//! through `/proc/self/mem`, so no `unsafe` is involved. Other OSes: nothing is done
//! (docs/SECURITY.md says what is left there).

/// Overwrites every argument that starts with `prefix`, after the prefix, with NUL bytes
/// in this process's command line. Returns how many were hidden. Linux only; elsewhere
/// `Ok(0)`.
pub fn hide_arguments_after(prefix: &str) -> std::io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        linux::hide_arguments_after(prefix)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = prefix;
        Ok(0)
    }
}

/// In `area` (NUL-separated arguments, as the kernel lays them out), replaces the bytes of
/// every argument that starts with `prefix`, after the prefix, with NULs. Returns how many
/// arguments changed. The area keeps its length, so the kernel's view stays consistent.
pub fn blank_arguments_after(area: &mut [u8], prefix: &[u8]) -> usize {
    let mut hidden = 0;
    let mut start = 0;
    while start < area.len() {
        let end = area[start..]
            .iter()
            .position(|byte| *byte == 0)
            .map_or(area.len(), |length| start + length);
        let argument = &mut area[start..end];
        if argument.len() > prefix.len() && argument.starts_with(prefix) {
            argument[prefix.len()..].fill(0);
            hidden += 1;
        }
        start = end + 1;
    }
    hidden
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::OpenOptions;
    use std::io::{Error, ErrorKind, Read, Seek, SeekFrom, Write};

    /// `arg_start` and `arg_end` are fields 48 and 49 of `/proc/self/stat` (proc(5)),
    /// counted after the command name in parentheses, which may itself hold spaces.
    pub(super) fn argument_area() -> std::io::Result<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/self/stat")?;
        let after_name = stat
            .rfind(')')
            .map(|at| &stat[at + 1..])
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "unreadable /proc/self/stat"))?;
        // The first field after the name is field 3 (state).
        let mut fields = after_name.split_whitespace().skip(48 - 3);
        let mut next = || {
            fields
                .next()
                .and_then(|field| field.parse::<u64>().ok())
                .ok_or_else(|| Error::new(ErrorKind::InvalidData, "no argument area in stat"))
        };
        let start = next()?;
        let end = next()?;
        if end <= start || end - start > 1 << 20 {
            return Err(Error::new(ErrorKind::InvalidData, "odd argument area"));
        }
        Ok((start, end))
    }

    pub(super) fn hide_arguments_after(prefix: &str) -> std::io::Result<usize> {
        let (start, end) = argument_area()?;
        let mut memory = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/self/mem")?;
        let length = usize::try_from(end - start)
            .map_err(|_| Error::new(ErrorKind::InvalidData, "odd argument area"))?;
        let mut area = vec![0; length];
        memory.seek(SeekFrom::Start(start))?;
        memory.read_exact(&mut area)?;
        let hidden = super::blank_arguments_after(&mut area, prefix.as_bytes());
        if hidden > 0 {
            memory.seek(SeekFrom::Start(start))?;
            memory.write_all(&area)?;
        }
        Ok(hidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_part_after_the_prefix_is_blanked_and_the_length_kept() {
        let mut area = b"convene\0--fake-media\0convene://join?token=eyJ.a.b\0".to_vec();
        let length = area.len();
        assert_eq!(blank_arguments_after(&mut area, b"convene://join"), 1);
        assert_eq!(area.len(), length);
        let shown = String::from_utf8_lossy(&area).replace('\0', " ");
        assert_eq!(
            shown.split_whitespace().collect::<Vec<_>>(),
            ["convene", "--fake-media", "convene://join"]
        );
        // No trailing NUL, and nothing to hide.
        let mut plain = b"convene\0convene://join".to_vec();
        assert_eq!(blank_arguments_after(&mut plain, b"convene://join"), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_finds_its_own_argument_area() {
        let (start, end) = linux::argument_area().expect("read /proc/self/stat");
        let mut memory = std::fs::File::open("/proc/self/mem").expect("open /proc/self/mem");
        use std::io::{Read, Seek, SeekFrom};
        let mut area = vec![0; (end - start) as usize];
        memory.seek(SeekFrom::Start(start)).expect("seek");
        memory.read_exact(&mut area).expect("read");
        let first = std::env::args().next().expect("argv[0]");
        assert!(area.starts_with(first.as_bytes()), "{area:?}");
    }
}
