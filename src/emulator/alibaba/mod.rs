//! The Alibaba side of the emulator: authentication as the RPC gateway does it
//! (fixture keys, and issued STS keys with their `SecurityToken`; STS
//! AssumeRoleWithOIDC is anonymous), faults, the product by `Version` (VPC or
//! STS), RAM authorisation of VPC calls ([`ram`]: `Forbidden.RAM` with
//! `AccessDeniedDetail`), ClientToken idempotency per account, then the
//! action handlers (`served` maps action names to them).

// First: the modules below use the `serve!` macro it defines.
#[macro_use]
mod served;

pub mod bandwidth_package;
pub mod eip;
pub mod entries;
pub mod ipv6;
pub mod nat_gateway;
pub mod oidc;
pub mod principal;
pub mod ram;
pub mod sts;
#[cfg(test)]
pub(crate) mod testing;
pub mod validate;

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::faults::Fault;
use super::fixture;
use super::state::AlibabaRegionState;
use super::{Answer, ApiError, Durations, Emulator, Inner, Logged, Outcome, new_id, request_id};
use crate::cloud::alibaba::actions::sts::AssumeRoleWithOidc;
use crate::cloud::alibaba::signer;
use crate::cloud::alibaba::{Action, Service};
use crate::cloud::wire::{self, Params};
use principal::{Identity, Principal, check_security_token};
pub use served::{ACTIONS, Raw, STS_ACTIONS, Served, actions_of, route};

/// How far a request's Timestamp may be from the server's clock, and how long
/// a nonce is remembered.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Parameters that are part of the protocol, not of the action.
const COMMON: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "SecurityToken",
    "Signature",
    "ClientToken",
    "RegionId",
];

/// Everything a handler may use and change.
pub struct Ctx<'a> {
    /// Virtual now, Unix milliseconds.
    pub now_ms: i64,
    /// The calling account.
    pub account: &'a fixture::AlibabaAccount,
    /// The region's fixture (VPCs, vSwitches, zones).
    pub region: &'a fixture::AlibabaRegion,
    /// The account's resources in the region.
    pub state: &'a mut AlibabaRegionState,
    /// Transition durations.
    pub durations: Durations,
    /// Id generator.
    pub rng: &'a mut fastrand::Rng,
    /// The call's ClientToken, recorded on what it creates.
    pub client_token: Option<String>,
    /// The `pageShift` fault was drawn for this page of a describe.
    pub page_shift: bool,
    /// The `listLagMs` fault: entries younger than this are missing from
    /// listings that do not name them by id.
    pub list_lag_ms: i64,
}

impl Ctx<'_> {
    /// A new resource id: `prefix-` and 22 lower-case alphanumerics.
    pub fn new_id(&mut self, prefix: &str) -> String {
        new_id(self.rng, prefix, 22)
    }

    /// The virtual time `d` from now.
    pub fn due(&self, d: Duration) -> i64 {
        self.now_ms + i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    /// Now as the API writes times.
    pub fn iso_now(&self) -> String {
        super::clock::iso(self.now_ms)
    }
}

/// A handler: typed request in, typed response out.
pub type Handler<A> = fn(&mut Ctx<'_>, A) -> Result<<A as Action>::Response, ApiError>;

/// Decode `params` into `A`, run `handler`, and encode its answer.
pub fn run<A>(ctx: &mut Ctx<'_>, params: &Params, handler: Handler<A>) -> Result<Value, ApiError>
where
    A: Action + DeserializeOwned,
    A::Response: Serialize,
{
    let request: A = wire::unflatten(params).map_err(|e| decode_error(&e))?;
    let response = handler(ctx, request)?;
    serde_json::to_value(response)
        .map_err(|e| ApiError::new(500, "InternalError", format!("encoding the answer: {e}")))
}

/// A parameter that failed to decode: a missing one is `Missing<Name>`.
fn decode_error(e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        return missing(name);
    }
    ApiError::new(
        400,
        "InvalidParameter",
        format!("The specified parameter is not valid: {text}"),
    )
}

/// `Missing<Name>`, as the gateway answers for an absent required parameter.
pub fn missing(name: &str) -> ApiError {
    ApiError::new(
        400,
        &format!("Missing{name}"),
        format!("{name} is mandatory for this action."),
    )
}

/// Handle one Alibaba RPC call.
pub(crate) fn handle(emulator: &Emulator, method: &str, params: &Params) -> Outcome {
    let action = params.get("Action").cloned().unwrap_or_default();
    let service = params
        .get("Version")
        .and_then(|v| Service::of_version(v))
        .unwrap_or(Service::Vpc);
    let mut logged = Logged {
        action: &action,
        account: String::new(),
        region: params.get("RegionId").map_or("", String::as_str),
        params,
    };
    let mut inner = emulator.lock();
    let request_id = request_id(&mut inner.rng);
    let result = call(
        emulator,
        &mut inner,
        method,
        &action,
        params,
        &mut logged.account,
    );
    let (status, answer, outcome, latency_ms) = match result {
        Ok((_, Some(Fault::NotFoundProxy), latency)) => (
            404,
            Answer::NotFoundProxy,
            "notFoundProxy".to_string(),
            latency,
        ),
        Ok((_, Some(Fault::CommitThenDrop), latency)) => {
            (200, Answer::Dropped, "success".to_string(), latency)
        }
        Ok((mut value, _, latency)) => {
            if let Value::Object(map) = &mut value {
                map.insert("RequestId".to_string(), json!(request_id));
            }
            (200, Answer::Json(value), "success".to_string(), latency)
        }
        Err((e, latency)) => {
            let mut body = json!({
                "RequestId": request_id,
                "HostId": service.host(),
                "Code": e.code,
                "Message": e.message,
                "Recommend": format!(
                    "https://next.api.aliyun.com/troubleshoot?q={}&product={}",
                    e.code,
                    service.product()
                ),
            });
            if let (Some(detail), Value::Object(map)) = (&e.access_denied, &mut body) {
                map.insert("AccessDeniedDetail".to_string(), json!(detail));
            }
            (e.status, Answer::Json(body), e.code, latency)
        }
    };
    Emulator::count(&mut inner, &logged, &outcome, &answer);
    Outcome {
        status,
        answer,
        latency_ms,
    }
}

type CallResult = Result<(Value, Option<Fault>, u64), (ApiError, u64)>;

/// Authenticate, draw the fault, then answer. `caller` learns the account id
/// once the call is authenticated. A [`Fault::NotFoundProxy`] comes back as
/// `Ok` with no answer: nothing was done, and the caller answers for the proxy.
fn call(
    emulator: &Emulator,
    inner: &mut Inner,
    method: &str,
    action: &str,
    params: &Params,
    caller: &mut String,
) -> CallResult {
    let (principal, service) = if is_anonymous(params) {
        (None, Service::Sts)
    } else {
        let (principal, service) =
            authenticate(emulator, inner, method, params).map_err(|e| (e, 0))?;
        caller.clone_from(&principal.account.account_id);
        (Some(principal), service)
    };
    let (fault, latency) = Emulator::draw_fault(inner, action);
    match fault {
        Some(Fault::Throttle) => {
            return Err((
                ApiError::new(
                    400,
                    "Throttling",
                    "Request was denied due to request throttling.",
                ),
                latency,
            ));
        }
        Some(Fault::Unavailable) => {
            return Err((
                ApiError::new(
                    503,
                    "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.",
                ),
                latency,
            ));
        }
        Some(Fault::Internal) => {
            return Err((
                ApiError::new(
                    500,
                    "InternalError",
                    "The request processing has failed due to some unknown error, exception or failure.",
                ),
                latency,
            ));
        }
        Some(Fault::NotFoundProxy) => return Ok((Value::Null, fault, latency)),
        Some(Fault::CommitThenDrop) | None => {}
    }
    // The product is chosen by Version: a VPC action sent with the STS
    // version (or the reverse) is an api that product does not have.
    if !actions_of(service).contains(&action) {
        return Err((unknown_action(action), latency));
    }
    if service == Service::Sts {
        let mut sts = sts::Sts {
            fixture: &emulator.config.fixture.alibaba,
            sessions: &mut inner.sts,
            rng: &mut inner.rng,
            now_ms: emulator.clock.now_ms(),
        };
        return sts
            .answer(principal.as_ref(), action, params)
            .map(|value| (value, fault, latency))
            .map_err(|e| (e, latency));
    }
    let Some(principal) = principal else {
        return Err((unknown_action(action), latency));
    };
    principal
        .authorize_vpc(action, params)
        .map_err(|e| (e, latency))?;
    let account = principal.account;
    let now_ms = emulator.clock.now_ms();
    inner.world.settle(now_ms);
    let token = params.get("ClientToken").filter(|t| !t.is_empty()).cloned();
    let token_key = token
        .as_ref()
        .map(|t| format!("{}/{action}/{t}", account.account_id));
    let digest = digest(params);
    if let Some(key) = &token_key
        && let Some(record) = inner.world.client_tokens.get(key)
    {
        return if record.digest == digest {
            Ok((record.response.clone(), fault, latency))
        } else {
            Err((
                ApiError::new(
                    400,
                    "IdempotentParameterMismatch",
                    "The request uses the same client token as a previous, but non-identical request.",
                ),
                latency,
            ))
        };
    }
    let page_number = params
        .get("PageNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    let rule = inner.faults.rule(action).clone();
    let page_shift = rule.draw_page_shift(&mut inner.fault_rng, page_number);
    let list_lag_ms = i64::try_from(rule.list_lag_ms).unwrap_or(i64::MAX);
    let value = dispatch(
        emulator,
        inner,
        &account,
        action,
        params,
        (token, page_shift, list_lag_ms),
        now_ms,
    )
    .map_err(|e| (e, latency))?;
    if let Some(key) = token_key {
        inner.world.client_tokens.insert(
            key,
            super::state::TokenRecord {
                digest,
                response: value.clone(),
            },
        );
    }
    if !is_read_only(action) {
        emulator.save(inner);
    }
    Ok((value, fault, latency))
}

/// `InvalidAction.NotFound`, as the gateway answers an api the product lacks.
fn unknown_action(action: &str) -> ApiError {
    ApiError::new(
        404,
        "InvalidAction.NotFound",
        format!("Specified api is not found, please check your url and method: {action}"),
    )
}

/// Whether an action only reads.
pub fn is_read_only(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("List") || action.starts_with("Get")
}

/// Digest of the action's own parameters (protocol parameters excluded).
fn digest(params: &Params) -> String {
    let mut hasher = Sha1::new();
    for (name, value) in params {
        if COMMON.contains(&name.as_str()) && name != "RegionId" {
            continue;
        }
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the call is one the service answers unsigned: STS
/// AssumeRoleWithOIDC, whose OIDC token is the proof. A signature sent with
/// it anyway is ignored.
fn is_anonymous(params: &Params) -> bool {
    params.get("Action").map(String::as_str) == Some(AssumeRoleWithOidc::NAME)
        && params.get("Version").and_then(|v| Service::of_version(v)) == Some(Service::Sts)
}

/// The principal a fixture key or issued STS key `key_id` signs for, and the
/// secret it signs with. An STS key needs its `SecurityToken`, unexpired on
/// the emulator's clock.
fn principal_of(
    emulator: &Emulator,
    inner: &Inner,
    key_id: &str,
    params: &Params,
) -> Result<(Principal, String), ApiError> {
    let fixture = &emulator.config.fixture.alibaba;
    if let Some(account) = fixture.accounts.iter().find(|a| a.access_key_id == key_id) {
        let principal = Principal {
            account: account.clone(),
            identity: Identity::User,
            policies: fixture.documents(&account.policies),
            session_policy: None,
        };
        return Ok((principal, account.access_key_secret.clone()));
    }
    let not_found = || {
        ApiError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    };
    let session = inner.sts.get(key_id).ok_or_else(not_found)?;
    check_security_token(
        session,
        params.get("SecurityToken").map(String::as_str),
        emulator.clock.now_ms(),
    )?;
    let role = fixture.role(&session.role_arn).ok_or_else(not_found)?;
    let owner = fixture.account(role.account_id()).ok_or_else(not_found)?;
    let principal = Principal {
        account: fixture::AlibabaAccount {
            account_id: owner.account_id.clone(),
            access_key_id: key_id.to_string(),
            access_key_secret: String::new(),
            legacy_bandwidth_packages: owner.legacy_bandwidth_packages,
            legacy_nat_gateways: owner.legacy_nat_gateways,
            policies: Vec::new(),
        },
        identity: Identity::AssumedRole {
            role: role.clone(),
            session_name: session.session_name.clone(),
        },
        policies: fixture.documents(&role.policies),
        session_policy: session.session_policy.clone(),
    };
    Ok((principal, session.access_key_secret.clone()))
}

/// Check the protocol parameters and the signature; returns the caller and
/// the product `Version` names.
fn authenticate(
    emulator: &Emulator,
    inner: &mut Inner,
    method: &str,
    params: &Params,
) -> Result<(Principal, Service), ApiError> {
    for name in [
        "Action",
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "Timestamp",
        "Version",
    ] {
        if params.get(name).is_none_or(String::is_empty) {
            return Err(missing(name));
        }
    }
    let key_id = &params["AccessKeyId"];
    let (principal, secret) = principal_of(emulator, inner, key_id, params)?;
    if params["SignatureMethod"] != "HMAC-SHA1" {
        return Err(ApiError::new(
            400,
            "InvalidSignatureMethod",
            "Specified signature method is not supported.",
        ));
    }
    if params.get("SignatureVersion").is_some_and(|v| v != "1.0") {
        return Err(ApiError::new(
            400,
            "InvalidSignatureVersion",
            "Specified signature version is not supported.",
        ));
    }
    let stamp = jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%SZ", &params["Timestamp"])
        .or_else(|_| params["Timestamp"].parse::<jiff::Timestamp>())
        .map_err(|_| {
            ApiError::new(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?;
    let skew_ms = (stamp.as_millisecond() - super::clock::wall_ms()).abs();
    if u128::from(skew_ms.unsigned_abs()) > WINDOW.as_millis() {
        return Err(ApiError::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    let mut unsigned = params.clone();
    let signature = unsigned.remove("Signature").unwrap_or_default();
    let (_, expected) = signer::sign(method, &unsigned, &secret);
    if signature != expected {
        // The string to sign, with secret parameters' values masked: error
        // messages end up in logs.
        for name in ["SecurityToken", "ExternalId", "Policy"] {
            if let Some(value) = unsigned.get_mut(name) {
                *value = "***".to_string();
            }
        }
        let shown = signer::string_to_sign(method, &unsigned);
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{shown}"
            ),
        ));
    }
    let now = Instant::now();
    if inner.nonces.len() > 10_000 {
        inner
            .nonces
            .retain(|_, seen| now.duration_since(*seen) < WINDOW);
    }
    let nonce_key = format!("{key_id}/{}", params["SignatureNonce"]);
    if inner
        .nonces
        .get(&nonce_key)
        .is_some_and(|seen| now.duration_since(*seen) < WINDOW)
    {
        return Err(ApiError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    inner.nonces.insert(nonce_key, now);
    let service = Service::of_version(&params["Version"]).ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        )
    })?;
    Ok((principal, service))
}

/// Find the region, then the action's handler.
fn dispatch(
    emulator: &Emulator,
    inner: &mut Inner,
    account: &fixture::AlibabaAccount,
    action: &str,
    params: &Params,
    (client_token, page_shift, list_lag_ms): (Option<String>, bool, i64),
    now_ms: i64,
) -> Result<Value, ApiError> {
    let region_id = params
        .get("RegionId")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("RegionId"))?;
    let region = emulator
        .config
        .fixture
        .alibaba
        .regions
        .iter()
        .find(|r| &r.region_id == region_id)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidRegionId.NotFound",
                "The specified RegionId does not exist in our records.",
            )
        })?;
    let Inner { world, rng, .. } = inner;
    let state = world
        .alibaba
        .entry(account.account_id.clone())
        .or_default()
        .regions
        .entry(region_id.clone())
        .or_default();
    let mut ctx = Ctx {
        now_ms,
        account,
        region,
        state,
        durations: emulator.config.durations,
        rng,
        client_token,
        page_shift,
        list_lag_ms,
    };
    route(&mut ctx, action, params)
}

/// A page of `items` for `page_number`/`page_size` (defaults 1 and 10, at
/// most 50), and the total count.
pub fn paginate<T: Clone>(
    items: &[T],
    page_number: Option<u32>,
    page_size: Option<u32>,
) -> Result<(Vec<T>, u32, u32, u32), ApiError> {
    let number = page_number.unwrap_or(1);
    let size = page_size.unwrap_or(10);
    if number == 0 {
        return Err(ApiError::new(
            400,
            "InvalidParameter.PageNumber",
            "The specified PageNumber is invalid.",
        ));
    }
    if !(1..=50).contains(&size) {
        return Err(ApiError::new(
            400,
            "InvalidParameter.PageSize",
            "The specified PageSize is invalid: it must be between 1 and 50.",
        ));
    }
    let start = usize::try_from((number - 1) * size).unwrap_or(usize::MAX);
    let page: Vec<T> = items
        .iter()
        .skip(start)
        .take(usize::try_from(size).unwrap_or(50))
        .cloned()
        .collect();
    let total = u32::try_from(items.len()).unwrap_or(u32::MAX);
    Ok((page, total, number, size))
}
