//! The UCloud side of the emulator: RetCode-style authentication, the UNet
//! bandwidth-package actions and UAccount `GetUserInfo`. Packages belong to
//! the user, whichever of its key pairs calls, and disappear once their
//! DisableTime passes.

use serde_json::{Value, json};

use super::faults::Fault;
use super::fixture::UcloudAccount;
use super::state::UcloudRegionState;
use super::{Answer, Emulator, Inner, Logged, Outcome, new_id};
use crate::cloud::ucloud::Action;
use crate::cloud::ucloud::actions::{
    BandwidthPackage, CreateBandwidthPackage, DeleteBandwidthPackage, DescribeBandwidthPackage,
    EipAddr, GetUserInfo, GetUserInfoResponse, UserInfo,
};
use crate::cloud::ucloud::codes;
use crate::cloud::ucloud::signer;
use crate::cloud::wire::{self, Params};

/// A UCloud error: RetCode and message (always HTTP 200 unless `http` is set).
struct Failure {
    ret_code: i64,
    message: String,
    http: u16,
}

fn fail(ret_code: i64, message: impl Into<String>) -> Failure {
    Failure {
        ret_code,
        message: message.into(),
        http: 200,
    }
}

/// Parameters of a JSON body, flattened 0-based the way the SDKs sign them.
pub(crate) fn json_body_params(body: &[u8]) -> Params {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Params::new();
    };
    wire::flatten(&map, wire::ListBase::Zero).unwrap_or_default()
}

/// Handle one UCloud call.
pub(crate) fn handle(emulator: &Emulator, params: &Params) -> Outcome {
    let action = params.get("Action").cloned().unwrap_or_default();
    let mut logged = Logged {
        action: &action,
        account: String::new(),
        region: params.get("Region").map_or("", String::as_str),
        params,
    };
    let mut inner = emulator.lock();
    let result = call(emulator, &mut inner, &action, params, &mut logged.account);
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
                map.insert("RetCode".into(), json!(0));
                map.insert("Action".into(), json!(format!("{action}Response")));
            }
            (200, Answer::Json(value), "success".to_string(), latency)
        }
        Err((f, latency)) => {
            let outcome = if f.http == 200 {
                f.ret_code.to_string()
            } else {
                format!("HTTP{}", f.http)
            };
            let body = json!({
                "RetCode": f.ret_code,
                "Action": format!("{action}Response"),
                "Message": f.message,
            });
            (f.http, Answer::Json(body), outcome, latency)
        }
    };
    Emulator::count(&mut inner, &logged, &outcome, &answer);
    Outcome {
        status,
        answer,
        latency_ms,
    }
}

type CallResult = Result<(Value, Option<Fault>, u64), (Failure, u64)>;

/// The actions served (UNet and UAccount), each named by its wire type.
const CREATE: &str = <CreateBandwidthPackage as Action>::NAME;
const DESCRIBE: &str = <DescribeBandwidthPackage as Action>::NAME;
const DELETE: &str = <DeleteBandwidthPackage as Action>::NAME;
const USER_INFO: &str = <GetUserInfo as Action>::NAME;
const ACTIONS: &[&str] = &[CREATE, DESCRIBE, DELETE, USER_INFO];

/// Authenticate, draw the fault, then answer. `caller` learns the user id
/// once the call is authenticated. A [`Fault::NotFoundProxy`] comes back as
/// `Ok` with no answer: nothing was done, and the caller answers for the proxy.
fn call(
    emulator: &Emulator,
    inner: &mut Inner,
    action: &str,
    params: &Params,
    caller: &mut String,
) -> CallResult {
    let account = authenticate(emulator, params).map_err(|f| (f, 0))?;
    *caller = account.user_id.to_string();
    let (fault, latency) = Emulator::draw_fault(inner, action);
    match fault {
        Some(Fault::Throttle) => {
            return Err((
                fail(codes::THROTTLED, "Request throttled, please retry later"),
                latency,
            ));
        }
        Some(Fault::Unavailable) => {
            return Err((
                fail(codes::SERVICE_UNAVAILABLE, "Service unavailable"),
                latency,
            ));
        }
        Some(Fault::Internal) => {
            let failure = Failure {
                ret_code: -1,
                message: "Bad Gateway".into(),
                http: 502,
            };
            return Err((failure, latency));
        }
        Some(Fault::NotFoundProxy) => return Ok((Value::Null, fault, latency)),
        Some(Fault::CommitThenDrop) | None => {}
    }
    if !ACTIONS.contains(&action) {
        return Err((
            fail(
                codes::UNKNOWN_ACTION,
                format!("Action [{action}] not exist"),
            ),
            latency,
        ));
    }
    if action == USER_INFO {
        return Ok((user_info(&account), fault, latency));
    }
    let now_ms = emulator.clock.now_ms();
    inner.world.settle(now_ms);
    let region_name = params
        .get("Region")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            (
                fail(codes::PARAMS_ERROR, "Missing params [Region]"),
                latency,
            )
        })?;
    let region = emulator
        .config
        .fixture
        .ucloud
        .regions
        .iter()
        .find(|r| &r.region == region_name)
        .ok_or_else(|| {
            (
                fail(
                    codes::PARAMS_ERROR,
                    format!("Params [Region] not available: {region_name}"),
                ),
                latency,
            )
        })?;
    let list_lag_ms = i64::try_from(inner.faults.rule(action).list_lag_ms).unwrap_or(i64::MAX);
    let Inner { world, rng, .. } = inner;
    let state = world
        .ucloud
        .entry(account.user_id)
        .or_default()
        .regions
        .entry(region_name.clone())
        .or_default();
    let result = match action {
        CREATE => create(state, region, rng, params, now_ms),
        DESCRIBE => describe(state, params, now_ms, list_lag_ms),
        DELETE => delete(state, params),
        _ => Err(fail(
            codes::UNKNOWN_ACTION,
            format!("Action [{action}] not exist"),
        )),
    }
    .map_err(|f| (f, latency))?;
    if action != DESCRIBE {
        emulator.save(inner);
    }
    Ok((result, fault, latency))
}

fn authenticate(emulator: &Emulator, params: &Params) -> Result<UcloudAccount, Failure> {
    if params.get("Action").is_none_or(String::is_empty) {
        return Err(fail(codes::MISSING_ACTION, "Missing Action"));
    }
    let Some(signature) = params.get("Signature").filter(|s| !s.is_empty()) else {
        return Err(fail(codes::MISSING_SIGNATURE, "Missing signature"));
    };
    let public_key = &params["PublicKey"];
    let account = emulator
        .config
        .fixture
        .ucloud
        .accounts
        .iter()
        .find(|a| &a.public_key == public_key)
        .ok_or_else(|| fail(codes::USER_NOT_EXIST, "User not exist"))?;
    if *signature != signer::sign(params, &account.private_key) {
        return Err(fail(codes::SIGNATURE_ERROR, "Signature verify error"));
    }
    Ok(account.clone())
}

/// The user of `account`'s key pair, the same for every key pair of the user.
fn user_info(account: &UcloudAccount) -> Value {
    let id = account.user_id;
    let email = format!("natop-demo-{id}@example.com");
    let user = UserInfo {
        user_id: id,
        user_email: email.clone(),
        company_name: format!("natop demo {id}"),
        user_name: "natop-demo".to_string(),
        user_phone: format!("138****{:04}", id % 10_000),
        phone_prefix: "86".to_string(),
        user_address: String::new(),
        province: "Beijing".to_string(),
        city: "Beijing".to_string(),
        auth_state: "CERTIFIED".to_string(),
        administrator: email,
        admin: 1,
        finance: 1,
        industry_type: 0,
        user_type: 1,
        user_version: 1,
    };
    let answer = GetUserInfoResponse {
        ret_code: Some(0),
        action: "GetUserInfoResponse".to_string(),
        data_set: vec![user],
    };
    serde_json::to_value(answer).unwrap_or_else(|_| json!({}))
}

fn decode<T: serde::de::DeserializeOwned>(params: &Params) -> Result<T, Failure> {
    wire::unflatten(params).map_err(|e| {
        let text = e.to_string();
        match text
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            Some(name) => fail(codes::PARAMS_ERROR, format!("Missing params [{name}]")),
            None => fail(codes::PARAMS_ERROR, format!("Params not available: {text}")),
        }
    })
}

fn create(
    state: &mut UcloudRegionState,
    region: &crate::emulator::fixture::UcloudRegion,
    rng: &mut fastrand::Rng,
    params: &Params,
    now_ms: i64,
) -> Result<Value, Failure> {
    let req: CreateBandwidthPackage = decode(params)?;
    let bandwidth = req
        .bandwidth
        .ok_or_else(|| fail(codes::PARAMS_ERROR, "Missing params [Bandwidth]"))?;
    if !(2..=800).contains(&bandwidth) {
        return Err(fail(
            codes::PARAMS_ERROR,
            "Params [Bandwidth] not available: 2-800",
        ));
    }
    let time_range = req
        .time_range
        .ok_or_else(|| fail(codes::PARAMS_ERROR, "Missing params [TimeRange]"))?;
    if time_range == 0 {
        return Err(fail(
            codes::PARAMS_ERROR,
            "Params [TimeRange] not available: must be > 0",
        ));
    }
    if req.eip_id.is_empty() {
        return Err(fail(codes::PARAMS_ERROR, "Missing params [EIPId]"));
    }
    let eip = region
        .eips
        .iter()
        .find(|e| e.eip_id == req.eip_id)
        .ok_or_else(|| {
            fail(
                codes::EIP_NOT_FOUND,
                format!("EIP [{}] not exist", req.eip_id),
            )
        })?;
    if eip.pay_mode != "Bandwidth" {
        return Err(fail(
            codes::EIP_PAY_MODE,
            format!(
                "EIP [{}] pay mode {} does not support bandwidth packages",
                eip.eip_id, eip.pay_mode
            ),
        ));
    }
    let now_s = now_ms.div_euclid(1000);
    let enable = req.enable_time.unwrap_or(now_s);
    if enable < now_s - 300 {
        return Err(fail(
            codes::PARAMS_ERROR,
            "Params [EnableTime] not available: in the past",
        ));
    }
    let id = new_id(rng, "bwpack", 6);
    let package = BandwidthPackage {
        bandwidth_package_id: id.clone(),
        enable_time: Some(enable),
        disable_time: Some(enable + i64::from(time_range) * 3600),
        create_time: Some(now_s),
        bandwidth: Some(bandwidth),
        eip_id: eip.eip_id.clone(),
        eip_addr: vec![EipAddr {
            ip: eip.ip.clone(),
            operator_name: "Bgp".into(),
        }],
    };
    state.bandwidth_packages.insert(id.clone(), package);
    Ok(json!({ "BandwidthPackageId": id }))
}

/// The region's packages, a page of them. Packages younger than the
/// `listLagMs` fault are not listed yet (the listing has no id filter).
fn describe(
    state: &UcloudRegionState,
    params: &Params,
    now_ms: i64,
    list_lag_ms: i64,
) -> Result<Value, Failure> {
    let req: DescribeBandwidthPackage = decode(params)?;
    let limit = usize::try_from(req.limit.unwrap_or(20)).unwrap_or(20);
    let offset = usize::try_from(req.offset.unwrap_or(0)).unwrap_or(0);
    let listed_before_ms = now_ms.saturating_sub(list_lag_ms);
    let mut all: Vec<&BandwidthPackage> = state
        .bandwidth_packages
        .values()
        .filter(|p| {
            list_lag_ms == 0
                || p.create_time
                    .is_some_and(|t| t.saturating_mul(1000) <= listed_before_ms)
        })
        .collect();
    all.sort_by_key(|p| (p.create_time, p.bandwidth_package_id.clone()));
    let page: Vec<&BandwidthPackage> = all.iter().skip(offset).take(limit).copied().collect();
    Ok(json!({ "TotalCount": all.len(), "DataSets": page }))
}

fn delete(state: &mut UcloudRegionState, params: &Params) -> Result<Value, Failure> {
    let req: DeleteBandwidthPackage = decode(params)?;
    if req.bandwidth_package_id.is_empty() {
        return Err(fail(
            codes::PARAMS_ERROR,
            "Missing params [BandwidthPackageId]",
        ));
    }
    state
        .bandwidth_packages
        .remove(&req.bandwidth_package_id)
        .map(|_| json!({}))
        .ok_or_else(|| {
            fail(
                codes::PACKAGE_NOT_FOUND,
                format!("Bandwidth package [{}] not exist", req.bandwidth_package_id),
            )
        })
}
