//! CPU and memory of a process tree, read from /proc (Linux).

use std::collections::HashMap;

/// Clock ticks per second of /proc's times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeUsage {
    /// CPU seconds used so far (user + system) by the processes alive now.
    pub cpu_seconds: f64,
    /// Memory of those processes together: the sum of their proportional set sizes (a page
    /// shared by n processes counts 1/n in each), so shared libraries count once.
    pub memory_mib: f64,
}

/// Reads `root` and all its descendants (without `root` itself when `skip_root`: the
/// browser's Node driver is not the client).
pub fn tree_usage(root: u32, skip_root: bool) -> TreeUsage {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut stats: HashMap<u32, (f64, f64)> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return TreeUsage::default();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some((parent, cpu)) = parent_and_cpu(pid) else {
            continue;
        };
        children.entry(parent).or_default().push(pid);
        stats.insert(pid, (cpu, proportional_mib(pid)));
    }
    let mut usage = TreeUsage::default();
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        if !(skip_root && pid == root)
            && let Some((cpu, rss)) = stats.get(&pid)
        {
            usage.cpu_seconds += cpu;
            usage.memory_mib += rss;
        }
        pending.extend(children.get(&pid).into_iter().flatten());
    }
    usage
}

fn parent_and_cpu(pid: u32) -> Option<(u32, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state, ppid (field 4 of the file) ... utime, stime (14, 15).
    let parent = fields.get(1)?.parse().ok()?;
    let ticks = |n: usize| fields.get(n).and_then(|v| v.parse::<f64>().ok());
    Some((parent, (ticks(11)? + ticks(12)?) / TICKS_PER_SECOND))
}

fn proportional_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|rollup| {
            rollup
                .lines()
                .find_map(|line| line.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
