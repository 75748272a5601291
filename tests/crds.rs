//! The committed CRDs in `crds/` are exactly what the Rust types generate
//! (regenerate with `make crds` after changing a type), and they install on
//! the real API server.

use crate::support::cluster::{client, install_crds};

/// Every committed copy of the CRDs: `crds/`, the Helm chart's and the plain
/// manifests'.
const CRD_DIRS: [&str; 3] = ["crds", "charts/natop/files/crds", "deploy/crds"];

#[test]
fn committed_crds_match_the_rust_types() {
    let generated = natop::cli::crds::files().unwrap();
    let mut names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    for dir_name in CRD_DIRS {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir_name);
        let mut committed: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
            .collect();
        committed.sort();
        assert_eq!(
            committed, names,
            "{dir_name}/ holds exactly one file per CRD; run `make crds`"
        );
        for (name, yaml) in &generated {
            let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(
                on_disk == *yaml,
                "{dir_name}/{name} drifted from the Rust types; run `make crds`"
            );
        }
    }
}

#[test]
fn deploy_crds_kustomization_lists_every_crd() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crds/kustomization.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let listed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let mut listed: Vec<String> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut names: Vec<String> = natop::cli::crds::files()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    assert_eq!(listed, names, "deploy/crds/kustomization.yaml");
}

#[test]
fn crd_reference_matches_the_schemas() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/crd-reference.md");
    let committed = std::fs::read_to_string(path).unwrap();
    let generated = natop::cli::crds::reference();
    assert!(
        committed == generated,
        "docs/crd-reference.md drifted from the CRD schemas; run `make crds`"
    );
    // Every kind and every spec field of every kind is in it.
    for crd in natop::api::crds() {
        let kind = &crd.spec.names.kind;
        assert!(generated.contains(&format!("\n## {kind}\n")), "{kind}");
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
        for field in spec.as_object().unwrap().keys() {
            assert!(
                generated.contains(&format!("`spec.{field}`")),
                "{kind} spec.{field} is missing from the reference"
            );
        }
    }
}

#[tokio::test]
async fn every_crd_installs_and_is_established_on_the_real_api_server() {
    install_crds(&client().await).await;
}
