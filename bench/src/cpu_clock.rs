//! `CpuClock`: the CPU time (user + system) a process has used so far, read from Linux's
//! `/proc/<pid>/stat`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};

/// Reads one process's CPU time.
#[derive(Debug, Clone)]
pub struct CpuClock {
    /// `/proc/<pid>/stat` or `/proc/self/stat`.
    stat: PathBuf,
    /// Clock ticks per second of that file's counters (`getconf CLK_TCK`).
    ticks_per_second: f64,
}

impl CpuClock {
    /// This process.
    pub fn of_self(ticks_per_second: u32) -> Self {
        Self {
            stat: PathBuf::from("/proc/self/stat"),
            ticks_per_second: f64::from(ticks_per_second.max(1)),
        }
    }

    /// Process `pid`.
    pub fn of_process(pid: u32, ticks_per_second: u32) -> Self {
        Self {
            stat: PathBuf::from(format!("/proc/{pid}/stat")),
            ticks_per_second: f64::from(ticks_per_second.max(1)),
        }
    }

    /// User plus system CPU seconds used so far, by every thread of the process.
    pub fn seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(&self.stat)
            .with_context(|| format!("cannot read {}", self.stat.display()))?;
        let ticks = parse_cpu_ticks(&stat)
            .ok_or_else(|| anyhow!("{} has no utime and stime", self.stat.display()))?;
        Ok(crate::report::to_f64(ticks) / self.ticks_per_second)
    }
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
    fn this_process_has_a_readable_cpu_time() {
        let seconds = CpuClock::of_self(100).seconds().unwrap();
        assert!(seconds >= 0.0);
    }
}
