//! A wrong secret gives a clear condition on the ProviderConfig and on the
//! gateways using it, and the secret appears in no log line (trace level), no
//! event and no status.

use std::process::Stdio;
use std::time::Duration;

use crate::support::cloud::{fixture, gateway_spec, vpc, vswitch};
use crate::support::cluster::{TIMEOUT, kubeconfig_path, wait_for};
use crate::support::objects::{condition, create, manifest};
use crate::support::operator::{TEST_LABEL, World, quick_durations};
use kube::Api;
use kube::api::PostParams;
use natop::api::{NatGateway, ProviderConfig};
use natop::emulator::EmulatorConfig;
use serde_json::json;

#[tokio::test]
async fn a_wrong_secret_is_reported_and_never_leaks() {
    let wrong = format!("wrong-secret-{}", uuid::Uuid::new_v4().simple());
    let world = World::start_custom(
        "secret",
        EmulatorConfig {
            durations: quick_durations(),
            ..EmulatorConfig::default()
        },
        0,
        Some(wrong.clone()),
        false,
    )
    .await;
    let gateways: Api<NatGateway> = create(&world, "NatGateway", "gw", gateway_spec()).await;

    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_natop"))
        .args(["run", "--kubeconfig"])
        .arg(kubeconfig_path())
        .args([
            "--watch-namespace",
            &world.ns.name,
            "--secret-namespace",
            &world.ns.name,
        ])
        .args([
            "--label-selector",
            &format!("{TEST_LABEL}={}", world.ns.name),
        ])
        .args(["--metrics-address", "127.0.0.1:0", "--log-level", "trace"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("natop run starts");
    // Drain the pipes as it writes: trace output would fill them and block it.
    let mut child = child;
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await;
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    );
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    );

    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    let name = world.provider.clone();
    let (_, _, message) = wait_for(
        "the ProviderConfig to report the rejected credentials",
        TIMEOUT,
        || async {
            let pc = configs.get(&name).await.ok()?;
            let ready = condition(&pc, "Ready")?;
            (ready.0 == "False" && ready.1 == "CredentialsRejected").then_some(ready)
        },
    )
    .await;
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    let (_, _, gw_message) = wait_for("the gateway to report it too", TIMEOUT, || async {
        let gw = gateways.get("gw").await.ok()?;
        let stalled = condition(&gw, "Stalled")?;
        // The cloud's own code may show first; the ProviderConfig's verdict follows.
        (stalled.0 == "True" && stalled.1 == "CredentialsRejected").then_some(stalled)
    })
    .await;
    assert!(
        gw_message.contains(&name),
        "names the ProviderConfig: {gw_message}"
    );

    // Let it retry a little at trace level, then stop it and read everything it wrote.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = child.id().expect("running");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .expect("it stops")
        .unwrap();
    assert!(
        status.success(),
        "natop run exits cleanly on SIGTERM: {status}"
    );
    let logs = stderr.await.unwrap() + &stdout.await.unwrap();
    assert!(logs.lines().count() > 20, "trace logs were written");
    assert!(!logs.contains(&wrong), "the secret appears in a log line");
    let encoded =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, wrong.as_bytes());
    assert!(
        !logs.contains(&encoded),
        "the secret appears base64-encoded in a log line"
    );

    let statuses = serde_json::to_string(&(
        configs.get(&name).await.unwrap(),
        gateways.get("gw").await.unwrap(),
    ))
    .unwrap();
    assert!(!statuses.contains(&wrong), "the secret appears in a status");
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    let events =
        serde_json::to_string(&events.list(&Default::default()).await.unwrap().items).unwrap();
    assert!(!events.contains(&wrong), "the secret appears in an event");
    world.stop().await;
}

/// `natop run` as its own process at trace level for `world`, with its
/// output collected; stop it with [`stop_collecting`].
fn run_collecting(world: &World) -> (tokio::process::Child, Vec<tokio::task::JoinHandle<String>>) {
    run_collecting_with(world, &[], "127.0.0.1:0")
}

/// [`run_collecting`] with more environment variables and its metrics on
/// `metrics`.
fn run_collecting_with(
    world: &World,
    env: &[(&str, String)],
    metrics: &str,
) -> (tokio::process::Child, Vec<tokio::task::JoinHandle<String>>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_natop"))
        .args(["run", "--kubeconfig"])
        .arg(kubeconfig_path())
        .args(["--watch-namespace", &world.ns.name])
        .args(["--secret-namespace", &world.ns.name])
        .args([
            "--label-selector",
            &format!("{TEST_LABEL}={}", world.ns.name),
        ])
        .args(["--metrics-address", metrics, "--log-level", "trace"])
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("natop run starts");
    let mut drains = Vec::new();
    let pipes: [Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>; 2] = [
        child.stdout.take().map(|p| Box::new(p) as _),
        child.stderr.take().map(|p| Box::new(p) as _),
    ];
    for pipe in pipes {
        drains.push(tokio::spawn(async move {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await;
            }
            String::from_utf8_lossy(&text).into_owned()
        }));
    }
    (child, drains)
}

async fn stop_collecting(
    mut child: tokio::process::Child,
    drains: Vec<tokio::task::JoinHandle<String>>,
) -> String {
    let pid = child.id().expect("running");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .expect("it stops")
        .unwrap();
    assert!(
        status.success(),
        "natop run exits cleanly on SIGTERM: {status}"
    );
    let mut logs = String::new();
    for drain in drains {
        logs.push_str(&drain.await.unwrap());
    }
    logs
}

#[tokio::test]
async fn location_ownership_and_endpoint_messages_carry_no_credentials() {
    use kube::api::{Patch, PatchParams};
    let world = World::start_custom(
        "secret-loc",
        EmulatorConfig {
            durations: quick_durations(),
            ..EmulatorConfig::default()
        },
        0,
        None,
        false,
    )
    .await;
    let (child, drains) = run_collecting(&world);
    let fixture = fixture();
    let gateways: Api<NatGateway> = Api::namespaced(world.client.clone(), &world.ns.name);
    let make = |name: &str, annotation: Option<&str>| -> NatGateway {
        let meta = match annotation {
            Some(id) => json!({"annotations": {"natop.dev/external-id": id}}),
            None => json!({}),
        };
        manifest(&world, "NatGateway", name, meta, gateway_spec())
    };
    gateways
        .create(&PostParams::default(), &make("gw", None))
        .await
        .unwrap();
    // Each reason is seen while it holds (a later stage replaces it), so
    // the gateway is kept as it was at that moment for the credential check.
    let reason = |name: &'static str, type_: &'static str, want: &'static str| {
        let gateways = gateways.clone();
        async move {
            wait_for(&format!("{name} {type_} {want}"), TIMEOUT, || async {
                let gw = gateways.get(name).await.ok()?;
                let (status, got, _) = condition(&gw, type_)?;
                (status == "True" && got == want).then_some(serde_json::to_string(&gw).ok()?)
            })
            .await
        }
    };
    let mut seen = Vec::new();
    seen.push(reason("gw", "Ready", "Available").await);
    let id = gateways
        .get("gw")
        .await
        .unwrap()
        .status
        .unwrap()
        .id
        .unwrap();
    for (name, annotation) in [("bad", "ngw-NOT*AN*ID"), ("taker", id.as_str())] {
        gateways
            .create(&PostParams::default(), &make(name, Some(annotation)))
            .await
            .unwrap();
    }
    seen.push(reason("bad", "Stalled", "InvalidExternalId").await);
    seen.push(reason("taker", "Stalled", "OwnedByAnotherObject").await);

    // Another account's keys behind the ProviderConfig.
    let other = &fixture.alibaba.accounts[1];
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    secrets
        .patch(
            "alibaba-credentials",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {
                "accessKeyId": other.access_key_id,
                "accessKeySecret": other.access_key_secret,
            }})),
        )
        .await
        .unwrap();
    seen.push(reason("gw", "Stalled", "LocationChanged").await);

    // A proxy answering 404 in place of the cloud.
    crate::support::cluster::emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!({"default": {"notFoundProxy": 1.0}}),
    )
    .await;
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    configs
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/recheck": "1"}}})),
        )
        .await
        .unwrap();
    wait_for("the ProviderConfig's EndpointError", TIMEOUT, || async {
        let pc = configs.get(&world.provider).await.ok()?;
        let (_, reason, _) = condition(&pc, "Ready")?;
        (reason == "EndpointError").then_some(())
    })
    .await;
    let logs = stop_collecting(child, drains).await;
    let statuses = serde_json::to_string(&(
        configs.get(&world.provider).await.unwrap(),
        gateways.list(&Default::default()).await.unwrap().items,
        seen,
    ))
    .unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    let events =
        serde_json::to_string(&events.list(&Default::default()).await.unwrap().items).unwrap();
    for reason in [
        "InvalidExternalId",
        "OwnedByAnotherObject",
        "LocationChanged",
        "EndpointError",
    ] {
        assert!(statuses.contains(reason), "{reason} was reported");
    }
    for account in &fixture.alibaba.accounts {
        let secret = &account.access_key_secret;
        let encoded = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            secret.as_bytes(),
        );
        for (what, text) in [
            ("a log line", &logs),
            ("a status", &statuses),
            ("an event", &events),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret appears in {what}"
            );
            assert!(
                !text.contains(&encoded),
                "a secret appears base64-encoded in {what}"
            );
        }
    }
    world.stop().await;
}

#[tokio::test]
async fn temporary_credentials_and_tokens_appear_nowhere() {
    use crate::credentials::{
        STS_AUDIENCE, cross_account_role, oidc_provider_arn, pc_reason, provider, rrsa_role,
        token_file, world_with_roles,
    };
    let world = world_with_roles("secret-sts").await;
    let token = token_file(&world, "natop", STS_AUDIENCE, 3600).await;
    let metrics = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let (child, drains) = run_collecting_with(
        &world,
        &[
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.display().to_string()),
            ("ALIBABA_CLOUD_ROLE_ARN", rrsa_role()),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", oidc_provider_arn()),
        ],
        &metrics,
    );
    let base = json!({"secretRef": {"namespace": world.ns.name, "name": "alibaba-credentials"}});
    let sources = [
        ("rrsa", json!({"rrsa": {}})),
        (
            "assume",
            json!({"assumeRole": {
                "roleArn": cross_account_role(), "externalId": "natop-blue", "source": base,
            }}),
        ),
        (
            "assume-rrsa",
            json!({"assumeRole": {
                "roleArn": cross_account_role(), "externalId": "natop-blue",
                "source": {"rrsa": {}},
            }}),
        ),
        (
            "ecs",
            json!({"ecsRamRole": {"metadataEndpoint": world.emulator.endpoint()}}),
        ),
    ];
    let mut configs = None;
    for (suffix, credentials) in &sources {
        let name = format!("{}-{suffix}", world.ns.name);
        configs = Some(provider(&world, &name, credentials.clone()).await);
    }
    let configs = configs.unwrap();
    let gateways: Api<NatGateway> = Api::namespaced(world.client.clone(), &world.ns.name);
    for (suffix, _) in &sources {
        pc_reason(
            &configs,
            &format!("{}-{suffix}", world.ns.name),
            "CredentialsValid",
        )
        .await;
    }
    // Every source holds credentials; the service's clock now runs ahead
    // to 5 minutes before they expire. A gateway takes at least two calls
    // (the create, then a describe), and the first answer shows natop the
    // new time, so every source renews its credentials while its gateway is
    // made. (Advanced after the gateways were created, a fast gateway could
    // be Ready before natop saw the new time, and nothing was renewed.)
    crate::support::cluster::emulator_post(
        &world.emulator.endpoint(),
        "clock",
        json!({"advanceSeconds": 3300}),
    )
    .await;
    for (suffix, _) in &sources {
        let name = format!("{}-{suffix}", world.ns.name);
        gateways
            .create(
                &PostParams::default(),
                &manifest(
                    &world,
                    "NatGateway",
                    &format!("gw-{suffix}"),
                    json!({}),
                    json!({"providerConfigRef": {"name": name}, "vpcId": vpc(), "vSwitchId": vswitch()}),
                ),
            )
            .await
            .unwrap();
    }
    for (suffix, _) in &sources {
        wait_for(&format!("gw-{suffix} Ready"), TIMEOUT, || async {
            let gw = gateways.get(&format!("gw-{suffix}")).await.ok()?;
            crate::support::objects::ready(&gw).then_some(())
        })
        .await;
    }
    let scraped = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .unwrap();
    assert!(
        scraped.contains("natop_cloud_calls_total"),
        "the metrics were read"
    );
    let logs = stop_collecting(child, drains).await;
    assert!(
        logs.contains("renewed temporary credentials"),
        "credentials were renewed"
    );
    let statuses = serde_json::to_string(&(
        configs.list(&Default::default()).await.unwrap().items,
        gateways.list(&Default::default()).await.unwrap().items,
    ))
    .unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    let events =
        serde_json::to_string(&events.list(&Default::default()).await.unwrap().items).unwrap();
    let mut secrets = world.emulator.emulator.issued_secrets();
    assert!(
        secrets.len() >= 2 * (sources.len() + 3),
        "every source got credentials, and renewed them: {} secrets",
        secrets.len()
    );
    secrets.push(std::fs::read_to_string(&token).unwrap().trim().to_string());
    secrets.push(fixture().alibaba.accounts[0].access_key_secret.clone());
    for secret in &secrets {
        let encoded = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            secret.as_bytes(),
        );
        // The tail too: a JWT's head is the same for every token, its
        // signature is not.
        let tail: String = secret
            .chars()
            .rev()
            .take(24)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        for (what, text) in [
            ("a log line", &logs),
            ("a status", &statuses),
            ("an event", &events),
            ("a metric", &scraped),
        ] {
            for form in [secret, &encoded, &tail] {
                assert!(
                    !text.contains(form.as_str()),
                    "a secret ({} characters) appears in {what}",
                    secret.len()
                );
            }
        }
    }
    for (suffix, _) in &sources {
        crate::support::operator::delete_provider(&world, &format!("{}-{suffix}", world.ns.name))
            .await;
    }
    let _ = std::fs::remove_file(token);
    world.stop().await;
}
