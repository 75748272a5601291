//! The committed CRDs in `crds/` are exactly what the Rust types generate
//! (regenerate with `make crds` after changing a type), and they install on
//! the real API server.

mod support;

use support::cluster::{client, install_crd};

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let generated = natop::cli::crds::files().unwrap();
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    committed.sort();
    let mut names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        committed, names,
        "crds/ holds exactly one file per CRD; run `make crds`"
    );
    for (name, yaml) in generated {
        let on_disk = std::fs::read_to_string(dir.join(&name)).unwrap();
        assert!(
            on_disk == yaml,
            "crds/{name} drifted from the Rust types; run `make crds`"
        );
    }
}

#[tokio::test]
async fn every_crd_installs_and_is_established_on_the_real_api_server() {
    let client = client().await;
    for crd in natop::api::crds() {
        install_crd(&client, &crd).await;
    }
}
