//! CPU and memory of processes, from `/proc` (Linux): our server by pid, and
//! PostgreSQL as the sum of every process named `postgres`.

use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ; 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// CPU time used so far by the server and by PostgreSQL, at an instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    at: Instant,
    server_ticks: u64,
    postgres_ticks: u64,
}

/// CPU use between two samples, in percent of one core.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CpuUse {
    pub server_cpu_pct: f64,
    pub postgres_cpu_pct: f64,
}

impl CpuSample {
    pub fn take(server_pid: u32) -> Self {
        CpuSample { at: Instant::now(), server_ticks: ticks(server_pid).unwrap_or(0), postgres_ticks: postgres_ticks() }
    }

    pub fn until(&self, later: &CpuSample) -> CpuUse {
        let secs = later.at.saturating_duration_since(self.at).as_secs_f64().max(1e-9);
        let pct = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS_PER_S / secs * 100.0;
        CpuUse {
            server_cpu_pct: pct(self.server_ticks, later.server_ticks),
            postgres_cpu_pct: pct(self.postgres_ticks, later.postgres_ticks),
        }
    }
}

/// utime + stime of one process.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .filter_map(ticks)
        .sum()
}

/// Peak and current resident memory of a process, MB (`VmHWM`, `VmRSS`).
pub fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// "2 cores, AMD EPYC …" and the PostgreSQL version is added by the caller.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        let spin = Instant::now();
        while spin.elapsed().as_millis() < 30 {
            std::hint::black_box(0u64);
        }
        assert!(ticks(me).is_some());
        let (peak, now) = memory_mb(me);
        assert!(peak > 0.0 && now > 0.0 && peak >= now, "{peak} {now}");
    }
}
