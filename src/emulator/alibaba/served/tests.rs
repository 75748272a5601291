use std::collections::BTreeSet;

use super::{ACTIONS, STS_ACTIONS, VPC_SERVED, actions_of};
use crate::cloud::alibaba::{Service, signer};
use crate::cloud::wire::Params;
use crate::emulator::alibaba::handle;
use crate::emulator::{Answer, Emulator, EmulatorConfig, clock};

/// Call `action` of `service` through the gateway, signed with the first
/// fixture account's key in `cn-hangzhou`, with no parameters of its own:
/// the answer's HTTP status and error code (empty on success).
fn call(emulator: &Emulator, service: Service, action: &str, nonce: usize) -> (u16, String) {
    let account = &emulator.config.fixture.alibaba.accounts[0];
    let mut params: Params = [
        ("Action", action),
        ("Version", service.version()),
        ("Format", "JSON"),
        ("AccessKeyId", &account.access_key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &format!("nonce-{nonce}")),
        ("Timestamp", &clock::iso(clock::wall_ms())),
        ("RegionId", "cn-hangzhou"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (_, signature) = signer::sign("GET", &params, &account.access_key_secret);
    params.insert("Signature".into(), signature);
    let outcome = handle(emulator, "GET", &params);
    let code = match &outcome.answer {
        Answer::Json(body) => body["Code"].as_str().unwrap_or_default().to_string(),
        Answer::Dropped | Answer::NotFoundProxy => String::new(),
    };
    (outcome.status, code)
}

#[test]
fn every_listed_action_is_dispatched() {
    let emulator = Emulator::new(EmulatorConfig::default()).unwrap();
    let mut nonce = 0;
    for service in [Service::Vpc, Service::Sts] {
        for action in actions_of(service) {
            nonce += 1;
            let (status, code) = call(&emulator, service, action, nonce);
            assert_ne!(code, "InvalidAction.NotFound", "{action} ({status})");
        }
    }
}

#[test]
fn unlisted_actions_and_the_other_products_actions_are_unknown() {
    let emulator = Emulator::new(EmulatorConfig::default()).unwrap();
    let unknown = (404, "InvalidAction.NotFound".to_string());
    assert_eq!(call(&emulator, Service::Vpc, "NoSuchAction", 1), unknown);
    assert_eq!(call(&emulator, Service::Vpc, STS_ACTIONS[0], 2), unknown);
    assert_eq!(call(&emulator, Service::Sts, ACTIONS[0], 3), unknown);
}

#[test]
fn the_action_lists_are_the_tables_names_each_once() {
    let served: Vec<&str> = VPC_SERVED
        .iter()
        .flat_map(|family| family.iter().map(|(name, _)| *name))
        .collect();
    assert_eq!(served, ACTIONS);
    let names: BTreeSet<&str> = ACTIONS.iter().chain(STS_ACTIONS).copied().collect();
    assert_eq!(
        names.len(),
        ACTIONS.len() + STS_ACTIONS.len(),
        "a name twice"
    );
    assert!(ACTIONS.iter().all(|name| !name.is_empty()));
}
