//! The integration tests, built as one crate (one compile and link of
//! natop's dependants instead of one per file): each `tests/<suite>.rs` is a
//! module here. Run one suite with `cargo test --test integration <suite>::`,
//! e.g. `cargo test --test integration entries::`.
//!
//! `chaos` (its own `main`) and `malformed` (it swaps a CRD's schema for a
//! moment, so nothing else may run beside it) stay test targets of their own.
//! Cargo.toml sets `autotests = false`: a new file under tests/ is built only
//! once it is a module here or a `[[test]]` there, which
//! `every_test_file_is_built` checks.

#[path = "support/mod.rs"]
mod support;

#[path = "bandwidth_package_alibaba.rs"]
mod bandwidth_package_alibaba;
#[path = "bandwidth_package_ucloud.rs"]
mod bandwidth_package_ucloud;
#[path = "cel_rules.rs"]
mod cel_rules;
#[path = "cli_sign.rs"]
mod cli_sign;
#[path = "cloud_alibaba.rs"]
mod cloud_alibaba;
#[path = "cloud_ucloud.rs"]
mod cloud_ucloud;
#[path = "cluster_api.rs"]
mod cluster_api;
#[path = "cluster_lifecycle.rs"]
mod cluster_lifecycle;
#[path = "crds.rs"]
mod crds;
#[path = "credentials.rs"]
mod credentials;
#[path = "emulator.rs"]
mod emulator;
#[path = "entries.rs"]
mod entries;
#[path = "ipv6_internet_bandwidth.rs"]
mod ipv6_internet_bandwidth;
#[path = "nat_gateway.rs"]
mod nat_gateway;
#[path = "ownership.rs"]
mod ownership;
#[path = "provider_config.rs"]
mod provider_config;
#[path = "ram_policy.rs"]
mod ram_policy;
#[path = "rebuild.rs"]
mod rebuild;
#[path = "run_command.rs"]
mod run_command;
#[path = "secrets.rs"]
mod secrets;

/// Every `tests/*.rs` is a module of this crate or a `[[test]]` of its own.
#[test]
fn every_test_file_is_built() {
    let this = include_str!("integration.rs");
    let manifest = include_str!("../Cargo.toml");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(&dir).expect("tests/ is readable") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !name.ends_with(".rs") || name == "integration.rs" {
            continue;
        }
        assert!(
            this.contains(&format!("#[path = \"{name}\"]"))
                || manifest.contains(&format!("path = \"tests/{name}\"")),
            "tests/{name} is built by no test target: add it as a module of \
             tests/integration.rs or as a [[test]] in Cargo.toml"
        );
    }
}
