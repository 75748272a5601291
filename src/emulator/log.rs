//! The call log (`GET /_emulator/log`): every API call in order, with the
//! account, region and resource ids it named and how it ended, so that a
//! test can prove that nothing wrote to a resource ("zero writes on X").

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::cloud::wire::Params;

/// How many calls are kept; older ones are forgotten first.
pub const CAPACITY: usize = 20_000;

/// Request parameters ending in `Id` that name the caller or the protocol,
/// not a resource (`ExternalId` is a shared secret of a role's trust).
const NOT_RESOURCE_IDS: &[&str] = &["AccessKeyId", "RegionId", "ClientToken", "ExternalId"];

/// Parameters that carry secrets: never logged, whatever their name.
const SECRETS: &[&str] = &[
    "OIDCToken",
    "SecurityToken",
    "AccessKeySecret",
    "Signature",
    "Policy",
    "ExternalId",
];

/// One logged call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedCall {
    /// Position in the log, from 1; never reused, not even after a reset.
    pub seq: u64,
    /// The `Action` parameter (empty when missing).
    pub action: String,
    /// The account id (UCloud: the user id) of an authenticated call; empty
    /// when the call was refused before the caller was known.
    pub account: String,
    /// `RegionId` (UCloud: `Region`), empty when the call has none.
    pub region: String,
    /// Every parameter naming a resource: names ending in `Id` or `Ids`
    /// (also as `Name.N` list items), without the caller and protocol ones.
    pub ids: BTreeMap<String, String>,
    /// `success`, the error code, `notFoundProxy` (the proxy fault answered)
    /// or `dropped` (done, but the answer was cut off).
    pub outcome: String,
}

/// The bounded log.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: VecDeque<LoggedCall>,
    last_seq: u64,
}

impl CallLog {
    /// Append a call, forgetting the oldest beyond [`CAPACITY`].
    pub fn record(
        &mut self,
        action: &str,
        account: &str,
        region: &str,
        params: &Params,
        outcome: &str,
    ) {
        self.last_seq += 1;
        self.calls.push_back(LoggedCall {
            seq: self.last_seq,
            action: action.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            ids: resource_ids(params),
            outcome: outcome.to_string(),
        });
        while self.calls.len() > CAPACITY {
            self.calls.pop_front();
        }
    }

    /// The calls after `seq`, oldest first.
    pub fn since(&self, seq: u64) -> Vec<&LoggedCall> {
        self.calls.iter().filter(|c| c.seq > seq).collect()
    }

    /// Forget every call; numbering goes on, so a `since` taken before a
    /// reset never hides calls made after it.
    pub fn clear(&mut self) {
        self.calls.clear();
    }
}

/// The parameters that name resources.
fn resource_ids(params: &Params) -> BTreeMap<String, String> {
    params
        .iter()
        .filter(|(name, _)| names_a_resource(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn names_a_resource(name: &str) -> bool {
    if NOT_RESOURCE_IDS.contains(&name) || SECRETS.contains(&name) {
        return false;
    }
    // `NatGatewayIds.2` is an item of the list `NatGatewayIds`.
    let base = name
        .rsplit('.')
        .find(|part| part.parse::<u32>().is_err())
        .unwrap_or(name);
    base.ends_with("Id") || base.ends_with("Ids")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn only_resource_ids_are_kept() {
        let p = params(&[
            ("Action", "DeleteForwardEntry"),
            ("AccessKeyId", "LTAI"),
            ("RegionId", "cn-hangzhou"),
            ("ClientToken", "t"),
            ("SignatureNonce", "n"),
            ("ForwardTableId", "ftb-1"),
            ("ForwardEntryId", "fwd-1"),
            ("NatGatewayIds.1", "ngw-1"),
            ("EIPId", "eip-1"),
            ("Tag.1.Key", "k"),
            ("Name", "x"),
        ]);
        let ids: Vec<String> = resource_ids(&p).into_keys().collect();
        assert_eq!(
            ids,
            [
                "EIPId",
                "ForwardEntryId",
                "ForwardTableId",
                "NatGatewayIds.1"
            ]
        );
    }

    #[test]
    fn secrets_are_never_logged() {
        let p = params(&[
            ("Action", "AssumeRoleWithOIDC"),
            ("OIDCToken", "eyJhbGciOi.secret"),
            ("SecurityToken", "CAISsecret"),
            ("AccessKeySecret", "secret"),
            ("ExternalId", "secret"),
            ("RoleArn", "acs:ram::1:role/r"),
            ("NatGatewayId", "ngw-1"),
        ]);
        let mut log = CallLog::default();
        log.record("AssumeRoleWithOIDC", "", "", &p, "success");
        let text = serde_json::to_string(&log.since(0)).unwrap();
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("ngw-1"));
    }

    #[test]
    fn the_log_is_bounded_ordered_and_numbered_across_clears() {
        let mut log = CallLog::default();
        for _ in 0..CAPACITY + 5 {
            log.record(
                "DescribeNatGateways",
                "1",
                "cn-hangzhou",
                &Params::new(),
                "success",
            );
        }
        let all = log.since(0);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].seq, 6);
        assert_eq!(all[CAPACITY - 1].seq, u64::try_from(CAPACITY + 5).unwrap());
        assert_eq!(log.since(u64::try_from(CAPACITY).unwrap()).len(), 5);
        log.clear();
        assert!(log.since(0).is_empty());
        log.record("GetCallerIdentity", "1", "", &Params::new(), "success");
        assert_eq!(log.since(0)[0].seq, u64::try_from(CAPACITY + 6).unwrap());
    }
}
