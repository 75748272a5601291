use serde_json::json;

use super::*;
use crate::cloud::alibaba::{Service, signer};
use crate::emulator::alibaba::handle;
use crate::emulator::alibaba::oidc::tests::{ISSUER, PROVIDER_ARN, claims, provider, sign};
use crate::emulator::fixture::{Fixture, OidcTrust, RamPolicy, RoleTrust};
use crate::emulator::{Answer, Emulator, EmulatorConfig, clock};

const ACCOUNT_1: &str = "1380000000000001";
const ACCOUNT_2: &str = "1380000000000002";
const DEPLOY_ROLE: &str = "acs:ram::1380000000000002:role/natop-deploy";
const EXTERNAL_ROLE: &str = "acs:ram::1380000000000002:role/natop-external";
pub(crate) const OIDC_ROLE: &str = "acs:ram::1380000000000001:role/natop-rrsa";

fn policy(name: &str, document: serde_json::Value) -> RamPolicy {
    RamPolicy {
        name: name.to_string(),
        document: serde_json::from_value(document).unwrap(),
    }
}

fn role(arn: &str, trust: RoleTrust, policies: &[&str]) -> RamRole {
    RamRole {
        role_arn: arn.to_string(),
        max_session_duration: 7200,
        policies: policies.iter().map(|p| p.to_string()).collect(),
        trust,
    }
}

/// The default fixture plus RAM: key 3 (account 1) may only describe and
/// assume roles; account 2's deploy role trusts account 1 and may not create
/// forward entries; an external-id role; an OIDC role of account 1.
pub(crate) fn ram_fixture() -> Fixture {
    let mut f = Fixture::default_fixture();
    let a = &mut f.alibaba;
    a.policies = vec![
        policy(
            "describe-and-assume",
            json!({"Version": "1", "Statement": [
                {"Effect": "Allow", "Action": ["vpc:Describe*", "sts:AssumeRole"], "Resource": "*"}]}),
        ),
        policy(
            "no-forward-entries",
            json!({"Version": "1", "Statement": [
                {"Effect": "Allow", "Action": "vpc:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "vpc:CreateForwardEntry", "Resource": "*"}]}),
        ),
    ];
    a.accounts[2].policies = vec!["describe-and-assume".into()];
    let trusts_1 = RoleTrust {
        accounts: vec![ACCOUNT_1.into()],
        ..RoleTrust::default()
    };
    a.oidc_providers = vec![provider()];
    a.roles = vec![
        role(DEPLOY_ROLE, trusts_1.clone(), &["no-forward-entries"]),
        role(
            EXTERNAL_ROLE,
            RoleTrust {
                external_id: Some("abc-123".into()),
                ..trusts_1
            },
            &[],
        ),
        role(
            OIDC_ROLE,
            RoleTrust {
                oidc: Some(OidcTrust {
                    provider_arn: PROVIDER_ARN.into(),
                    audiences: vec![],
                    subjects: vec!["system:serviceaccount:natop:*".into()],
                }),
                ..RoleTrust::default()
            },
            &[],
        ),
    ];
    a.instance_role = Some(OIDC_ROLE.into());
    f
}

fn emulator() -> std::sync::Arc<Emulator> {
    Emulator::new(EmulatorConfig {
        fixture: ram_fixture(),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// Credentials a test signs with.
struct Keys {
    id: String,
    secret: String,
    token: Option<String>,
}

fn fixture_key(index: usize) -> Keys {
    let a = &ram_fixture().alibaba.accounts[index];
    Keys {
        id: a.access_key_id.clone(),
        secret: a.access_key_secret.clone(),
        token: None,
    }
}

fn sts_keys(credentials: &Value) -> Keys {
    Keys {
        id: credentials["AccessKeyId"].as_str().unwrap().to_string(),
        secret: credentials["AccessKeySecret"].as_str().unwrap().to_string(),
        token: Some(credentials["SecurityToken"].as_str().unwrap().to_string()),
    }
}

/// A signed call through the gateway: (HTTP status, body).
fn call(
    emulator: &Emulator,
    keys: &Keys,
    service: Service,
    action: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let nonce = format!("{:x}", fastrand::u128(..));
    let mut params: Params = [
        ("Action", action),
        ("Version", service.version()),
        ("Format", "JSON"),
        ("AccessKeyId", &keys.id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &nonce),
        ("Timestamp", &clock::iso(clock::wall_ms())),
        ("RegionId", "cn-hangzhou"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(token) = &keys.token {
        params.insert("SecurityToken".into(), token.clone());
    }
    let (_, signature) = signer::sign("POST", &params, &keys.secret);
    params.insert("Signature".into(), signature);
    answer(emulator, &params)
}

fn answer(emulator: &Emulator, params: &Params) -> (u16, Value) {
    let outcome = handle(emulator, "POST", params);
    match outcome.answer {
        Answer::Json(body) => (outcome.status, body),
        Answer::Dropped | Answer::NotFoundProxy => (outcome.status, Value::Null),
    }
}

fn code(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["Code"].as_str().unwrap_or(""))
}

fn assume(emulator: &Emulator, keys: &Keys, extra: &[(&str, &str)]) -> (u16, Value) {
    call(emulator, keys, Service::Sts, "AssumeRole", extra)
}

#[test]
fn pure_checks() {
    let names = [
        ("ab", true),
        ("a", false),
        ("natop.controller@cluster_1-x", true),
        (&*"x".repeat(64), true),
        (&*"x".repeat(65), false),
        ("has space", false),
        ("slash/no", false),
    ];
    for (name, ok) in names {
        assert_eq!(check_session_name(name).is_ok(), ok, "{name}");
    }
    let durations = [
        (None, 3600, Ok(3600)),
        (None, 43_200, Ok(3600)),
        (None, 900, Ok(900)),
        (Some(900), 3600, Ok(900)),
        (Some(899), 3600, Err("15min/1hr")),
        (Some(3601), 3600, Err("15min/1hr")),
        (Some(43_200), 43_200, Ok(43_200)),
        (Some(5000), 4000, Err("15min/4000s")),
    ];
    for (requested, max, want) in durations {
        match (duration(requested, max), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(text)) => {
                assert_eq!(e.code, "InvalidParameter.DurationSeconds");
                assert!(e.message.contains(text), "{}", e.message);
            }
            (got, want) => panic!("{requested:?}/{max}: {got:?} vs {want:?}"),
        }
    }
    let f = ram_fixture();
    let external = f.alibaba.role(EXTERNAL_ROLE).unwrap();
    let deploy = f.alibaba.role(DEPLOY_ROLE).unwrap();
    let trusts = [
        (deploy, ACCOUNT_1, None, true),
        (deploy, ACCOUNT_2, None, false),
        (external, ACCOUNT_1, Some("abc-123"), true),
        (external, ACCOUNT_1, Some("abc-124"), false),
        (external, ACCOUNT_1, None, false),
    ];
    for (r, account, external_id, ok) in trusts {
        let got = check_trust(r, account, external_id);
        assert_eq!(got.is_ok(), ok, "{} {account} {external_id:?}", r.role_arn);
        if let Err(e) = got {
            assert_eq!((e.status, e.code.as_str()), (403, "NoPermission"));
            assert!(!e.message.contains("abc"), "no external id in messages");
        }
    }
    let arns = [
        (DEPLOY_ROLE, true),
        ("acs:ram::x:role/r", false),
        ("acs:ram::1:user/r", false),
        ("acs:ram::1:role/", false),
        ("role/r", false),
    ];
    for (arn, ok) in arns {
        assert_eq!(check_role_arn(arn).is_ok(), ok, "{arn}");
    }
    assert!(session_policy(Some("{")).is_err());
    assert_eq!(session_policy(None).unwrap(), None);
}

#[test]
fn assume_role_checks_the_role_the_trust_and_the_parameters() {
    let e = emulator();
    let key1 = fixture_key(0);
    let key2 = fixture_key(1);
    let limited = fixture_key(2);
    type Row<'a> = (&'a str, &'a Keys, Vec<(&'a str, &'a str)>, (u16, &'a str));
    let table: Vec<Row<'_>> = vec![
        (
            "ok",
            &key1,
            vec![("RoleArn", DEPLOY_ROLE), ("RoleSessionName", "s1")],
            (200, ""),
        ),
        (
            "unknown role",
            &key1,
            vec![
                ("RoleArn", "acs:ram::1380000000000002:role/none"),
                ("RoleSessionName", "s1"),
            ],
            (404, "EntityNotExist.Role"),
        ),
        (
            "malformed arn",
            &key1,
            vec![("RoleArn", "nope"), ("RoleSessionName", "s1")],
            (400, "InvalidParameter.RoleArn"),
        ),
        (
            "missing session",
            &key1,
            vec![("RoleArn", DEPLOY_ROLE)],
            (400, "MissingRoleSessionName"),
        ),
        (
            "bad session",
            &key1,
            vec![("RoleArn", DEPLOY_ROLE), ("RoleSessionName", "a b")],
            (400, "InvalidParameter.RoleSessionName"),
        ),
        (
            "untrusted account",
            &key2,
            vec![("RoleArn", DEPLOY_ROLE), ("RoleSessionName", "s1")],
            (403, "NoPermission"),
        ),
        (
            "duration too long",
            &key1,
            vec![
                ("RoleArn", DEPLOY_ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "7201"),
            ],
            (400, "InvalidParameter.DurationSeconds"),
        ),
        (
            "duration max",
            &key1,
            vec![
                ("RoleArn", DEPLOY_ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "7200"),
            ],
            (200, ""),
        ),
        (
            "duration short",
            &key1,
            vec![
                ("RoleArn", DEPLOY_ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "899"),
            ],
            (400, "InvalidParameter.DurationSeconds"),
        ),
        (
            "external id missing",
            &key1,
            vec![("RoleArn", EXTERNAL_ROLE), ("RoleSessionName", "s1")],
            (403, "NoPermission"),
        ),
        (
            "external id wrong",
            &key1,
            vec![
                ("RoleArn", EXTERNAL_ROLE),
                ("RoleSessionName", "s1"),
                ("ExternalId", "x"),
            ],
            (403, "NoPermission"),
        ),
        (
            "external id right",
            &key1,
            vec![
                ("RoleArn", EXTERNAL_ROLE),
                ("RoleSessionName", "s1"),
                ("ExternalId", "abc-123"),
            ],
            (200, ""),
        ),
        (
            "bad policy",
            &key1,
            vec![
                ("RoleArn", DEPLOY_ROLE),
                ("RoleSessionName", "s1"),
                ("Policy", "{}"),
            ],
            (400, "InvalidParameter.PolicyGrammar"),
        ),
        (
            "policy allows assume",
            &limited,
            vec![("RoleArn", DEPLOY_ROLE), ("RoleSessionName", "s1")],
            (200, ""),
        ),
    ];
    for (name, keys, extra, want) in table {
        let got = assume(&e, keys, &extra);
        assert_eq!(code(&got), want, "{name}: {}", got.1);
    }
}

#[test]
fn a_users_policy_must_allow_assume_role() {
    let mut f = ram_fixture();
    f.alibaba.policies.push(policy(
        "describe-only",
        json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vpc:Describe*", "Resource": "*"}]}),
    ));
    f.alibaba.accounts[2].policies = vec!["describe-only".into()];
    let e = Emulator::new(EmulatorConfig {
        fixture: f,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let got = assume(
        &e,
        &fixture_key(2),
        &[("RoleArn", DEPLOY_ROLE), ("RoleSessionName", "s1")],
    );
    assert_eq!(code(&got), (403, "NoPermission"));
    let detail = &got.1["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "sts:AssumeRole");
    assert_eq!(detail["AuthPrincipalType"], "SubUser");
    assert_eq!(detail["NoPermissionType"], "ImplicitDeny");
}

#[test]
fn sts_credentials_act_as_the_role_in_its_account_until_they_expire() {
    let e = emulator();
    let (status, body) = assume(
        &e,
        &fixture_key(0),
        &[
            ("RoleArn", DEPLOY_ROLE),
            ("RoleSessionName", "natop"),
            ("DurationSeconds", "900"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let credentials = &body["Credentials"];
    let id = credentials["AccessKeyId"].as_str().unwrap();
    assert!(id.starts_with("STS."), "{id}");
    assert!(
        credentials["SecurityToken"]
            .as_str()
            .unwrap()
            .starts_with("CAIS")
    );
    let expiration = credentials["Expiration"].as_str().unwrap();
    assert_eq!(expiration.len(), "2026-12-06T09:00:00Z".len());
    assert_eq!(
        body["AssumedRoleUser"]["Arn"],
        "acs:ram::1380000000000002:assumed-role/natop-deploy/natop"
    );
    let keys = sts_keys(credentials);

    let (status, who) = call(&e, &keys, Service::Sts, "GetCallerIdentity", &[]);
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["IdentityType"], "AssumedRoleUser");
    assert_eq!(who["AccountId"], ACCOUNT_2);
    assert_eq!(
        who["Arn"],
        "acs:ram::1380000000000002:assumed-role/natop-deploy/natop"
    );
    assert_eq!(who["PrincipalId"], body["AssumedRoleUser"]["AssumedRoleId"]);
    let principal = who["PrincipalId"].as_str().unwrap();
    assert!(
        principal.ends_with(":natop") && principal.len() == 18 + 6,
        "{principal}"
    );

    // The role's account: account 2 has no legacy bandwidth packages.
    let (status, _) = call(&e, &keys, Service::Vpc, "DescribeNatGateways", &[]);
    assert_eq!(status, 200);
    let gateway = call(
        &e,
        &keys,
        Service::Vpc,
        "CreateNatGateway",
        &[
            ("VpcId", "vpc-hz1natop0000000000"),
            ("VSwitchId", "vsw-hz11natop000000000"),
            ("NatType", "Enhanced"),
        ],
    );
    assert_eq!(gateway.0, 200, "{}", gateway.1);
    let inner = e.lock();
    assert!(
        inner.world.alibaba[ACCOUNT_2].regions["cn-hangzhou"]
            .nat_gateways
            .len()
            == 1
    );
    assert!(
        inner.world.alibaba[ACCOUNT_1].regions["cn-hangzhou"]
            .nat_gateways
            .is_empty()
    );
    assert_eq!(inner.log.since(0).last().unwrap().account, ACCOUNT_2);
    drop(inner);

    // Token missing, mismatched; then expiry on the virtual clock.
    let no_token = Keys {
        token: None,
        ..sts_keys(credentials)
    };
    let got = call(&e, &no_token, Service::Vpc, "DescribeNatGateways", &[]);
    assert_eq!(code(&got), (400, "MissingSecurityToken"));
    let wrong = Keys {
        token: Some("CAISwrong".into()),
        ..sts_keys(credentials)
    };
    let got = call(&e, &wrong, Service::Vpc, "DescribeNatGateways", &[]);
    assert_eq!(
        code(&got),
        (400, "InvalidSecurityToken.MismatchWithAccessKey")
    );
    let bad_secret = Keys {
        secret: "x".into(),
        ..sts_keys(credentials)
    };
    let got = call(&e, &bad_secret, Service::Vpc, "DescribeNatGateways", &[]);
    assert_eq!(code(&got), (400, "SignatureDoesNotMatch"));
    assert!(
        !got.1["Message"].as_str().unwrap().contains("CAIS"),
        "no token in messages"
    );
    e.clock.advance(899.0);
    assert_eq!(
        call(&e, &keys, Service::Vpc, "DescribeNatGateways", &[]).0,
        200
    );
    e.clock.advance(2.0);
    let got = call(&e, &keys, Service::Vpc, "DescribeNatGateways", &[]);
    assert_eq!(code(&got), (400, "InvalidSecurityToken.Expired"));
    assert_eq!(got.1["Message"], "Specified SecurityToken is expired.");
    // A reset forgets issued credentials.
    e.reset();
    let got = call(&e, &keys, Service::Vpc, "DescribeNatGateways", &[]);
    assert_eq!(code(&got), (404, "InvalidAccessKeyId.NotFound"));
}

#[test]
fn ram_policies_refuse_vpc_calls_with_access_denied_detail() {
    let e = emulator();
    let (_, body) = assume(
        &e,
        &fixture_key(0),
        &[("RoleArn", DEPLOY_ROLE), ("RoleSessionName", "deployer")],
    );
    let role_keys = sts_keys(&body["Credentials"]);
    let params = [
        ("ForwardTableId", "ftb-x"),
        ("ExternalIp", "1.2.3.4"),
        ("ExternalPort", "80"),
        ("InternalIp", "10.0.0.1"),
        ("InternalPort", "80"),
        ("IpProtocol", "TCP"),
    ];
    let got = call(&e, &role_keys, Service::Vpc, "CreateForwardEntry", &params);
    assert_eq!(code(&got), (403, "Forbidden.RAM"), "{}", got.1);
    assert_eq!(
        got.1["Message"],
        "User not authorized to operate on the specified resource, or this API doesn't support RAM."
    );
    let detail = &got.1["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "vpc:CreateForwardEntry");
    assert_eq!(detail["AuthPrincipalType"], "AssumedRoleUser");
    assert_eq!(detail["AuthPrincipalDisplayName"], "natop-deploy:deployer");
    assert_eq!(detail["PolicyType"], "AccountLevelIdentityBasedPolicy");
    assert_eq!(detail["NoPermissionType"], "ExplicitDeny");
    assert!(
        detail["EncodedDiagnosticMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    // The refusal is a call, logged with its code and the role's account.
    let inner = e.lock();
    let last = inner.log.since(0).last().cloned().unwrap().clone();
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("CreateForwardEntry", "Forbidden.RAM")
    );
    assert_eq!(last.account, ACCOUNT_2);
    assert_eq!(inner.calls["CreateForwardEntry"]["Forbidden.RAM"], 1);
    drop(inner);

    // Key 3 may only describe: an implicit deny for a create.
    let limited = fixture_key(2);
    assert_eq!(
        call(&e, &limited, Service::Vpc, "DescribeNatGateways", &[]).0,
        200
    );
    let got = call(
        &e,
        &limited,
        Service::Vpc,
        "CreateNatGateway",
        &[("VpcId", "vpc-hz1natop0000000000")],
    );
    assert_eq!(code(&got), (403, "Forbidden.RAM"));
    assert_eq!(
        got.1["AccessDeniedDetail"]["NoPermissionType"],
        "ImplicitDeny"
    );
    assert_eq!(got.1["AccessDeniedDetail"]["AuthPrincipalType"], "SubUser");
    // GetCallerIdentity needs no permission.
    assert_eq!(
        call(&e, &limited, Service::Sts, "GetCallerIdentity", &[]).0,
        200
    );

    // A session policy narrows the role's permissions.
    let session = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vpc:Describe*","Resource":"*"}]}"#;
    let (_, body) = assume(
        &e,
        &fixture_key(0),
        &[
            ("RoleArn", EXTERNAL_ROLE),
            ("RoleSessionName", "narrow"),
            ("ExternalId", "abc-123"),
            ("Policy", session),
        ],
    );
    let narrow = sts_keys(&body["Credentials"]);
    assert_eq!(
        call(&e, &narrow, Service::Vpc, "DescribeNatGateways", &[]).0,
        200
    );
    let got = call(
        &e,
        &narrow,
        Service::Vpc,
        "CreateNatGateway",
        &[("VpcId", "vpc-hz1natop0000000000")],
    );
    assert_eq!(code(&got), (403, "Forbidden.RAM"));
}

/// AssumeRoleWithOIDC, unsigned, as a form body would bring it.
fn oidc_call(emulator: &Emulator, token: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let params: Params = [
        ("Action", "AssumeRoleWithOIDC"),
        ("Version", Service::Sts.version()),
        ("Format", "JSON"),
        ("OIDCProviderArn", PROVIDER_ARN),
        ("RoleArn", OIDC_ROLE),
        ("RoleSessionName", "rrsa"),
        ("OIDCToken", token),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    answer(emulator, &params)
}

#[test]
fn assume_role_with_oidc_verifies_the_token_on_the_emulators_clock() {
    let e = emulator();
    let now_s = e.clock.now_ms() / 1000;
    let sub = "system:serviceaccount:natop:natop";
    let good = sign(
        &claims(json!("sts.aliyuncs.com"), sub, now_s + 600),
        "natop-test-1",
    );
    let (status, body) = oidc_call(&e, &good, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["OIDCTokenInfo"]["Subject"], sub);
    assert_eq!(body["OIDCTokenInfo"]["Issuer"], ISSUER);
    assert_eq!(body["OIDCTokenInfo"]["ClientIds"], "sts.aliyuncs.com");
    assert_eq!(
        body["AssumedRoleUser"]["Arn"],
        "acs:ram::1380000000000001:assumed-role/natop-rrsa/rrsa"
    );
    let keys = sts_keys(&body["Credentials"]);
    let (_, who) = call(&e, &keys, Service::Sts, "GetCallerIdentity", &[]);
    assert_eq!(who["AccountId"], ACCOUNT_1);

    let other_sub = sign(
        &claims(
            json!("sts.aliyuncs.com"),
            "system:serviceaccount:kube-system:x",
            now_s + 600,
        ),
        "natop-test-1",
    );
    let wrong_aud = sign(&claims(json!("someone"), sub, now_s + 600), "natop-test-1");
    type Row<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, (u16, &'a str));
    let table: Vec<Row<'_>> = vec![
        (
            "empty",
            String::new(),
            vec![],
            (401, "AuthenticationFail.OIDCToken.Invalid"),
        ),
        (
            "subject",
            other_sub,
            vec![],
            (401, "AuthenticationFail.NoPermission"),
        ),
        (
            "audience",
            wrong_aud,
            vec![],
            (401, "AuthenticationFail.OIDCToken.AudienceNotMatch"),
        ),
        (
            "provider",
            good.clone(),
            vec![(
                "OIDCProviderArn",
                "acs:ram::1380000000000001:oidc-provider/none",
            )],
            (401, "AuthenticationFail.NoPermission"),
        ),
        (
            "role without oidc trust",
            good.clone(),
            vec![("RoleArn", DEPLOY_ROLE)],
            (401, "AuthenticationFail.NoPermission"),
        ),
        (
            "unknown role",
            good.clone(),
            vec![("RoleArn", "acs:ram::1380000000000001:role/none")],
            (404, "EntityNotExist.Role"),
        ),
        (
            "session name",
            good.clone(),
            vec![("RoleSessionName", "x")],
            (400, "InvalidParameter.RoleSessionName"),
        ),
    ];
    for (name, token, extra, want) in table {
        let got = oidc_call(&e, &token, &extra);
        assert_eq!(code(&got), want, "{name}: {}", got.1);
    }
    // Signed anyway: the signature is ignored, the token decides.
    let signed = call(
        &e,
        &fixture_key(0),
        Service::Sts,
        "AssumeRoleWithOIDC",
        &[
            ("OIDCProviderArn", PROVIDER_ARN),
            ("RoleArn", OIDC_ROLE),
            ("RoleSessionName", "rrsa"),
            ("OIDCToken", &good),
        ],
    );
    assert_eq!(signed.0, 200, "{}", signed.1);
    e.clock.advance(600.0);
    let got = oidc_call(&e, &good, &[]);
    assert_eq!(code(&got), (401, "AuthenticationFail.OIDCToken.Expired"));
    assert_eq!(got.1["Message"], "This JsonWebToken is expired.");
    // No call log entry carries the token.
    let log = serde_json::to_string(&e.lock().log.since(0)).unwrap();
    assert!(!log.contains(&good[..20]));
}

#[test]
fn a_users_identity_is_its_accounts_and_stable() {
    let user = |id: &str| Principal {
        account: crate::emulator::fixture::AlibabaAccount {
            account_id: id.to_string(),
            ..Default::default()
        },
        identity: Identity::User,
        policies: vec![],
        session_policy: None,
    };
    let v = caller_identity(&user(ACCOUNT_1));
    assert_eq!(v.account_id, ACCOUNT_1);
    assert_eq!(v.arn, "acs:ram::1380000000000001:user/natop");
    assert_eq!(v.identity_type, "RAMUser");
    assert_eq!(v.user_id.len(), 18);
    assert!(v.user_id.starts_with('2'));
    assert_eq!(v.principal_id, v.user_id);
    assert_eq!(caller_identity(&user(ACCOUNT_1)), v);
    assert_ne!(caller_identity(&user(ACCOUNT_2)).user_id, v.user_id);
}
