//! natop as its own `natop run` process (benchmarks and the chaos suite):
//! started for one world's namespace and label, logging to a file, killed
//! with SIGKILL as a crash would; and the emulator's call counts.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::cluster::{emulator_admin, kubeconfig_path};
use super::operator::{TEST_LABEL, World};

/// Calls answered, by action then outcome.
pub type Calls = BTreeMap<String, BTreeMap<String, u64>>;

/// One `natop run` process. Dropping it kills it.
pub struct OperatorProcess {
    child: Child,
    /// Where it logs (appended to across restarts).
    pub log: PathBuf,
}

impl OperatorProcess {
    /// Start `natop run` for `world`'s namespace and label, appending its
    /// output to `log`.
    pub fn spawn(world: &World, log: &Path, level: &str) -> OperatorProcess {
        OperatorProcess::spawn_with(world, log, level, &[])
    }

    /// As `spawn`, with more arguments of `natop run` (e.g.
    /// `--min-drift-interval`).
    pub fn spawn_with(world: &World, log: &Path, level: &str, extra: &[&str]) -> OperatorProcess {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("operator log file");
        let child = Command::new(env!("CARGO_BIN_EXE_natop"))
            .arg("run")
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .args(["--watch-namespace", &world.ns.name])
            .args(["--secret-namespace", &world.ns.name])
            .args([
                "--label-selector",
                &format!("{TEST_LABEL}={}", world.ns.name),
            ])
            .args(["--owner-id", &world.owner_id])
            .args(["--metrics-address", "127.0.0.1:0"])
            .args(["--log-level", level])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("natop run starts");
        OperatorProcess {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL it and reap it.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A field of /proc/PID/status, in kB.
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
}

/// CPU seconds (user and system) a process has used so far, from fields 14
/// and 15 of /proc/PID/stat (in clock ticks).
pub fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from its closing ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks_per_second())
}

/// `getconf CLK_TCK` (100 on Linux wherever it cannot be asked).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Calls the world's emulator answered, by action then outcome.
pub async fn calls(world: &World) -> Calls {
    serde_json::from_value(emulator_admin(&world.emulator.endpoint(), "calls").await)
        .expect("calls decode")
}

/// Print the calls answered between `before` and `after`, by action and
/// outcome, and per `per` objects.
pub fn print_calls_per(before: &Calls, after: &Calls, per: usize) {
    println!(
        "  {:<36} {:>8} {:>10}  outcomes",
        "action", "calls", "per object"
    );
    for (action, outcomes) in after {
        let mut total = 0;
        let mut detail = Vec::new();
        for (outcome, n) in outcomes {
            let delta = n - before
                .get(action)
                .and_then(|o| o.get(outcome))
                .copied()
                .unwrap_or(0);
            if delta > 0 {
                total += delta;
                detail.push(format!("{outcome}={delta}"));
            }
        }
        if total > 0 {
            println!(
                "  {action:<36} {total:>8} {:>10.3}  {}",
                total as f64 / per.max(1) as f64,
                detail.join(" ")
            );
        }
    }
}
