//! `CpuClock`: the CPU time (user + system) a process, or a process and its children, has
//! used so far, read from Linux's `/proc/<pid>/stat`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};

/// Reads one process's CPU time.
#[derive(Debug, Clone)]
pub struct CpuClock {
    /// `/proc/<pid>/stat` or `/proc/self/stat`.
    stat: PathBuf,
    /// Clock ticks per second of that file's counters (`getconf CLK_TCK`).
    ticks_per_second: f64,
    /// Whether the process's children count too (a PostgreSQL postmaster and its backends).
    with_children: bool,
}

impl CpuClock {
    /// This process.
    pub fn of_self(ticks_per_second: u32) -> Self {
        Self {
            stat: PathBuf::from("/proc/self/stat"),
            ticks_per_second: f64::from(ticks_per_second.max(1)),
            with_children: false,
        }
    }

    /// Process `pid`.
    pub fn of_process(pid: u32, ticks_per_second: u32) -> Self {
        Self {
            stat: PathBuf::from(format!("/proc/{pid}/stat")),
            ticks_per_second: f64::from(ticks_per_second.max(1)),
            with_children: false,
        }
    }

    /// Process `pid` and its direct children: the live ones, and those that ended and were
    /// waited for (their time moves into the parent's `cutime` and `cstime`, so a child that
    /// ends during a phase still counts).
    pub fn of_process_and_children(pid: u32, ticks_per_second: u32) -> Self {
        Self {
            with_children: true,
            ..Self::of_process(pid, ticks_per_second)
        }
    }

    /// User plus system CPU seconds used so far, by every thread of the process (and of its
    /// children, when they count).
    pub fn seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(&self.stat)
            .with_context(|| format!("cannot read {}", self.stat.display()))?;
        let mut ticks = parse_cpu_ticks(&stat)
            .ok_or_else(|| anyhow!("{} has no utime and stime", self.stat.display()))?;
        if self.with_children {
            ticks = ticks.saturating_add(parse_children_ticks(&stat).unwrap_or(0));
            ticks = ticks.saturating_add(live_children_ticks(&stat));
        }
        Ok(crate::report::to_f64(ticks) / self.ticks_per_second)
    }
}

/// `utime + stime` of every live process whose parent is this one (a child that ends
/// while /proc is read is skipped).
fn live_children_ticks(own_stat: &str) -> u64 {
    let Some(pid) = own_stat.split_whitespace().next() else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| parse_parent(stat).is_some_and(|parent| parent == pid))
        .filter_map(|stat| parse_cpu_ticks(&stat))
        .fold(0, u64::saturating_add)
}

/// Field 4 (the parent's pid) of a `/proc/<pid>/stat` line.
fn parse_parent(stat: &str) -> Option<&str> {
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(4 - 3)
}

/// `cutime + cstime` (fields 16 and 17): the time of children that ended and were waited for.
fn parse_children_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(16 - 3);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    user.checked_add(system)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. Field 2, the command
/// name in parentheses, may itself hold spaces and parentheses, so fields are counted from
/// the last `)`: after it come field 3 (state), 4, and so on.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_ticks_are_added() {
        let stat = "4242 (twofa) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 37 0 0 20 0 9 0 \
                    1234 5678 910 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(287));
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let stat = "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 11 4 0 0 20 0 1 0 1 2 3";
        assert_eq!(parse_cpu_ticks(stat), Some(15));
    }

    #[test]
    fn the_parent_and_the_ended_childrens_ticks_are_read() {
        let stat = "4242 (postgres) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 37 12 5 20 0 9 0 \
                    1234 5678 910 18446744073709551615";
        assert_eq!(parse_parent(stat), Some("1"));
        assert_eq!(parse_children_ticks(stat), Some(17));
    }

    #[test]
    fn this_process_with_its_children_has_used_at_least_its_own_time() {
        let own = CpuClock::of_self(100).seconds().unwrap();
        let with_children = CpuClock::of_process_and_children(std::process::id(), 100)
            .seconds()
            .unwrap();
        assert!(with_children >= own);
    }

    #[test]
    fn this_process_has_a_readable_cpu_time() {
        let seconds = CpuClock::of_self(100).seconds().unwrap();
        assert!(seconds >= 0.0);
    }
}
