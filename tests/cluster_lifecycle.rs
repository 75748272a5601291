//! The control-plane scripts stop everything they start: a second, private
//! control plane is started and stopped, and none of its processes survives.

use std::path::Path;
use std::process::Command;

fn script(name: &str) -> String {
    format!("{}/tests/cluster/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only a running or sleeping process counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

fn pids(dir: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (name, pid) = line.split_once(' ')?;
            Some((name.to_string(), pid.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn after_the_harness_stops_none_of_its_processes_is_alive() {
    let dir = std::env::temp_dir().join(format!("natop-lifecycle-{}", uuid::Uuid::new_v4()));
    let up = Command::new("bash")
        .arg(script("up.sh"))
        .env("NATOP_CLUSTER_DIR", &dir)
        .output()
        .expect("up.sh runs");
    let started = pids(&dir);
    let stop = || {
        Command::new("bash")
            .arg(script("down.sh"))
            .env("NATOP_CLUSTER_DIR", &dir)
            .output()
            .expect("down.sh runs")
    };
    if !up.status.success() {
        stop();
        panic!("up.sh failed: {}", String::from_utf8_lossy(&up.stderr));
    }
    let stdout = String::from_utf8_lossy(&up.stdout);
    assert_eq!(
        stdout.lines().last(),
        Some(format!("export KUBECONFIG={}", dir.join("kubeconfig").display()).as_str())
    );
    let names: Vec<&str> = started.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["etcd", "kube-apiserver", "kube-controller-manager"]);
    assert!(
        started.iter().all(|(_, pid)| alive(*pid)),
        "all three run: {started:?}"
    );

    let down = stop();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let survivors: Vec<_> = started.iter().filter(|(_, pid)| alive(*pid)).collect();
    assert!(
        survivors.is_empty(),
        "still alive after down.sh: {survivors:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
