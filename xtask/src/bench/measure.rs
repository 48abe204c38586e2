//! Wall time, CPU time and peak resident memory of one child process, with std only.
//!
//! std has no `wait4`/`getrusage`, and `unsafe` is forbidden in the workspace, so the child is
//! watched through `/proc/<pid>`: `VmHWM` (the kernel's own high-water mark of resident memory)
//! is read every few milliseconds while it runs, and once `/proc/<pid>/stat` shows the process
//! as a zombie (exited, not yet reaped) its `utime + stime` are read — for a zombie these are
//! the final totals of all its threads — before it is reaped with `wait()`. The wall time ends
//! at the first poll that sees the zombie, so it is exact to within one poll interval.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How often `/proc/<pid>` is read.
const POLL: Duration = Duration::from_millis(5);

/// What one child run cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Usage {
    pub wall: Duration,
    /// User + system CPU time of all its threads.
    pub cpu: Duration,
    /// Peak resident set size (`VmHWM`), bytes.
    pub peak_rss: u64,
}

/// The finished child: its status and what it cost.
pub(crate) struct Finished {
    pub status: ExitStatus,
    pub usage: Usage,
}

/// Runs `command` to completion and measures it. Its stdout goes to `stdout_file`, its stderr
/// to `stderr_file`.
pub(crate) fn run_measured(mut command: Command, stdout_file: &Path, stderr_file: &Path) -> Result<Finished> {
    let stdout =
        fs::File::create(stdout_file).with_context(|| format!("cannot create {}", stdout_file.display()))?;
    let stderr =
        fs::File::create(stderr_file).with_context(|| format!("cannot create {}", stderr_file.display()))?;
    command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let ticks_per_second = clock_ticks_per_second();
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot start {command:?}"))?;
    let proc_dir = Path::new("/proc").join(child.id().to_string());
    let mut peak_rss = 0u64;
    let (wall, cpu_ticks) = loop {
        if let Some(hwm) = fs::read_to_string(proc_dir.join("status")).ok().as_deref().and_then(vm_hwm_bytes)
        {
            peak_rss = peak_rss.max(hwm);
        }
        match fs::read_to_string(proc_dir.join("stat")).ok().as_deref().map(parse_stat) {
            Some(Some(stat)) if stat.state == 'Z' => break (started.elapsed(), stat.utime + stat.stime),
            Some(Some(_)) => {}
            // /proc is not there or unreadable: cannot measure, only wait.
            _ => return finish_unmeasured(child, started),
        }
        thread::sleep(POLL);
    };
    let status = child.wait().context("cannot wait for the child")?;
    let cpu = Duration::from_secs_f64(cpu_ticks as f64 / ticks_per_second as f64);
    Ok(Finished { status, usage: Usage { wall, cpu, peak_rss } })
}

fn finish_unmeasured(mut child: Child, started: Instant) -> Result<Finished> {
    let status = child.wait().context("cannot wait for the child")?;
    bail!(
        "cannot read /proc/{}/stat: the bench measures CPU time and memory through /proc (Linux); \
         the child ran {:?} and ended with {status}",
        child.id(),
        started.elapsed()
    )
}

/// The fields of `/proc/<pid>/stat` the bench needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub state: char,
    /// Clock ticks in user mode.
    pub utime: u64,
    /// Clock ticks in kernel mode.
    pub stime: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may hold spaces
/// or parentheses itself, so fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

/// `VmHWM` of `/proc/<pid>/status`, in bytes (absent for a zombie).
pub(crate) fn vm_hwm_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line["VmHWM:".len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// `sysconf(_SC_CLK_TCK)` without libc: `getconf CLK_TCK`, else Linux's usual 100.
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|ticks| *ticks > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let text = "4242 (tokio (rt) x) Z 1 4242 4242 0 -1 4194560 900 0 0 0 173 41 0 0 20 0 3 0 1 0 0";
        assert_eq!(parse_stat(text), Some(Stat { state: 'Z', utime: 173, stime: 41 }));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status = "Name:\tsfconn\nVmPeak:\t  300000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(12345 * 1024));
        assert_eq!(vm_hwm_bytes("Name:\tsfconn\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn a_child_is_measured_until_it_exits() {
        let dir = tempfile_dir();
        let mut command = Command::new("sh");
        command.args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3"]);
        let finished = run_measured(command, &dir.join("out"), &dir.join("err")).unwrap();
        assert_eq!(finished.status.code(), Some(3));
        assert!(finished.usage.peak_rss > 0, "{:?}", finished.usage);
        assert!(finished.usage.wall >= finished.usage.cpu / 2, "{:?}", finished.usage);
        let _ = fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-measure-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
