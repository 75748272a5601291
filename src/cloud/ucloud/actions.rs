//! UNet bandwidth package actions: a temporary extra bandwidth for an EIP,
//! active from `EnableTime` to `EnableTime + TimeRange` hours; and the
//! UAccount action that says which user (account) a key pair belongs to.

use serde::{Deserialize, Serialize};

use super::{Action, Paginated};
use crate::cloud::wire;

/// CreateBandwidthPackage: buys a temporary bandwidth package for an EIP.
/// There is no idempotency token: a repeated call buys a second package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateBandwidthPackage {
    /// Region of the EIP, e.g. `cn-bj2`.
    #[serde(rename = "Region")]
    pub region: String,
    /// Project of the EIP; the account's default project when absent.
    #[serde(rename = "ProjectId", default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Bandwidth in Mbps, 2 to 800.
    #[serde(
        rename = "Bandwidth",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// The EIP (`eip-…`) the package is attached to.
    #[serde(rename = "EIPId")]
    pub eip_id: String,
    /// How many hours the package lasts (> 0).
    #[serde(
        rename = "TimeRange",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub time_range: Option<u32>,
    /// When the package starts, in Unix seconds; now when absent.
    #[serde(
        rename = "EnableTime",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub enable_time: Option<i64>,
    /// Coupon to pay with.
    #[serde(rename = "CouponId", default, skip_serializing_if = "Option::is_none")]
    pub coupon_id: Option<String>,
}

impl Action for CreateBandwidthPackage {
    const NAME: &'static str = "CreateBandwidthPackage";
    const IDEMPOTENT: bool = false;
    type Response = CreateBandwidthPackageResponse;
}

/// Answer of CreateBandwidthPackage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBandwidthPackageResponse {
    /// `0` on success.
    #[serde(deserialize_with = "wire::opt_num")]
    pub ret_code: Option<i64>,
    /// `CreateBandwidthPackageResponse`.
    pub action: String,
    /// Id of the new package (`bwpack-…`).
    #[serde(alias = "BandwidthPackageID")]
    pub bandwidth_package_id: String,
}

/// DescribeBandwidthPackage: lists the account's active and scheduled
/// bandwidth packages in a region (expired ones are gone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DescribeBandwidthPackage {
    /// Region to list.
    #[serde(rename = "Region")]
    pub region: String,
    /// Project to list; the default project when absent.
    #[serde(rename = "ProjectId", default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Page size (default 20).
    #[serde(
        rename = "Limit",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub limit: Option<u32>,
    /// Index of the first item to return.
    #[serde(
        rename = "Offset",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub offset: Option<u32>,
}

impl Action for DescribeBandwidthPackage {
    const NAME: &'static str = "DescribeBandwidthPackage";
    const IDEMPOTENT: bool = true;
    type Response = DescribeBandwidthPackageResponse;
}

impl Paginated for DescribeBandwidthPackage {
    type Item = BandwidthPackage;

    fn set_window(&mut self, offset: u32, limit: u32) {
        self.offset = Some(offset);
        self.limit = Some(limit);
    }

    fn total_count(response: &Self::Response) -> u32 {
        response.total_count.unwrap_or(0)
    }

    fn items(response: Self::Response) -> Vec<Self::Item> {
        response.data_sets
    }

    fn item_id(item: &Self::Item) -> Option<&str> {
        Some(item.bandwidth_package_id.as_str()).filter(|id| !id.is_empty())
    }
}

/// Answer of DescribeBandwidthPackage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeBandwidthPackageResponse {
    /// `0` on success.
    #[serde(deserialize_with = "wire::opt_num")]
    pub ret_code: Option<i64>,
    /// `DescribeBandwidthPackageResponse`.
    pub action: String,
    /// Number of packages across all pages.
    #[serde(deserialize_with = "wire::opt_num")]
    pub total_count: Option<u32>,
    /// The packages of this page.
    #[serde(deserialize_with = "wire::list")]
    pub data_sets: Vec<BandwidthPackage>,
}

/// One bandwidth package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BandwidthPackage {
    /// Package id (`bwpack-…`); one documented example spells the key `BandwidthPackageID`.
    #[serde(alias = "BandwidthPackageID")]
    pub bandwidth_package_id: String,
    /// Start, Unix seconds.
    #[serde(deserialize_with = "wire::opt_num")]
    pub enable_time: Option<i64>,
    /// End, Unix seconds.
    #[serde(deserialize_with = "wire::opt_num")]
    pub disable_time: Option<i64>,
    /// Purchase time, Unix seconds.
    #[serde(deserialize_with = "wire::opt_num")]
    pub create_time: Option<i64>,
    /// Bandwidth in Mbps.
    #[serde(deserialize_with = "wire::opt_num")]
    pub bandwidth: Option<u32>,
    /// The EIP the package belongs to.
    #[serde(rename = "EIPId")]
    pub eip_id: String,
    /// Addresses of that EIP.
    #[serde(rename = "EIPAddr", deserialize_with = "wire::list")]
    pub eip_addr: Vec<EipAddr>,
}

/// One address of an EIP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EipAddr {
    /// The IP address.
    #[serde(rename = "IP")]
    pub ip: String,
    /// Line or carrier, e.g. `Bgp`.
    #[serde(rename = "OperatorName")]
    pub operator_name: String,
}

/// DeleteBandwidthPackage: ends a package early.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteBandwidthPackage {
    /// Region of the package.
    #[serde(rename = "Region")]
    pub region: String,
    /// Project of the package.
    #[serde(rename = "ProjectId", default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The package to delete.
    #[serde(rename = "BandwidthPackageId")]
    pub bandwidth_package_id: String,
}

impl Action for DeleteBandwidthPackage {
    const NAME: &'static str = "DeleteBandwidthPackage";
    const IDEMPOTENT: bool = true;
    type Response = DeleteBandwidthPackageResponse;
}

/// Answer of DeleteBandwidthPackage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteBandwidthPackageResponse {
    /// `0` on success.
    #[serde(deserialize_with = "wire::opt_num")]
    pub ret_code: Option<i64>,
    /// `DeleteBandwidthPackageResponse`.
    pub action: String,
}

/// GetUserInfo (UAccount): the user the key pair belongs to. It takes no
/// parameters (and no `Region`); every key pair of one user answers the same
/// `UserId`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetUserInfo {}

impl Action for GetUserInfo {
    const NAME: &'static str = "GetUserInfo";
    const IDEMPOTENT: bool = true;
    type Response = GetUserInfoResponse;
}

/// Answer of GetUserInfo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetUserInfoResponse {
    /// `0` on success.
    #[serde(deserialize_with = "wire::opt_num")]
    pub ret_code: Option<i64>,
    /// `GetUserInfoResponse`.
    pub action: String,
    /// The user: one element.
    #[serde(deserialize_with = "wire::list")]
    pub data_set: Vec<UserInfo>,
}

/// A UCloud user (the `UserInfo` model of the UAccount API).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserInfo {
    /// The user's (account's) id.
    #[serde(deserialize_with = "wire::num")]
    pub user_id: u64,
    /// Login e-mail.
    #[serde(deserialize_with = "wire::text")]
    pub user_email: String,
    /// Company of the account.
    #[serde(deserialize_with = "wire::text")]
    pub company_name: String,
    /// Display name.
    #[serde(deserialize_with = "wire::text")]
    pub user_name: String,
    /// Phone number (masked).
    #[serde(deserialize_with = "wire::text")]
    pub user_phone: String,
    /// International dialling prefix of the phone number.
    #[serde(deserialize_with = "wire::text")]
    pub phone_prefix: String,
    /// Postal address.
    #[serde(deserialize_with = "wire::text")]
    pub user_address: String,
    /// Province of the address.
    #[serde(deserialize_with = "wire::text")]
    pub province: String,
    /// City of the address.
    #[serde(deserialize_with = "wire::text")]
    pub city: String,
    /// Identity verification state (e.g. `CERTIFIED`).
    #[serde(deserialize_with = "wire::text")]
    pub auth_state: String,
    /// The account's administrator.
    #[serde(deserialize_with = "wire::text")]
    pub administrator: String,
    /// Whether the caller is an administrator (1) or not (0).
    #[serde(deserialize_with = "wire::num")]
    pub admin: i64,
    /// Whether the caller has finance rights (1) or not (0).
    #[serde(deserialize_with = "wire::num")]
    pub finance: i64,
    /// Industry code.
    #[serde(deserialize_with = "wire::num")]
    pub industry_type: i64,
    /// Account type code (individual or company).
    #[serde(deserialize_with = "wire::num")]
    pub user_type: i64,
    /// Account version code.
    #[serde(deserialize_with = "wire::num")]
    pub user_version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::wire::{ListBase, flatten, unflatten};

    #[test]
    fn seed_example_parses() {
        let body = include_str!("../../../tests/fixtures/ucloud/CreateBandwidthPackage.json");
        let r: CreateBandwidthPackageResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.bandwidth_package_id, "bwpack-rybftq");
        assert_eq!(r.ret_code, Some(0));
        assert_eq!(r.action, "CreateBandwidthPackageResponse");
    }

    #[test]
    fn create_flattens_to_the_seed_request_names() {
        let req = CreateBandwidthPackage {
            region: "cn-bj2".into(),
            eip_id: "eip-vuxqym".into(),
            bandwidth: Some(200),
            enable_time: Some(1_430_986_009),
            time_range: Some(1),
            ..Default::default()
        };
        let p = flatten(&req, ListBase::Zero).unwrap();
        let names: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["Bandwidth", "EIPId", "EnableTime", "Region", "TimeRange"]
        );
        assert_eq!(p["Bandwidth"], "200");
        assert_eq!(p["EnableTime"], "1430986009");
        assert_eq!(unflatten::<CreateBandwidthPackage>(&p).unwrap(), req);
    }

    #[test]
    fn describe_accepts_both_id_spellings_and_string_numbers() {
        let body = r#"{"RetCode":0,"Action":"DescribeBandwidthPackageResponse","TotalCount":"2",
            "DataSets":[
              {"BandwidthPackageId":"bwpack-a","EnableTime":1430986009,"DisableTime":"1430989609",
               "CreateTime":1430986000,"Bandwidth":"200","EIPId":"eip-1",
               "EIPAddr":[{"IP":"106.75.1.1","OperatorName":"Bgp"}]},
              {"BandwidthPackageID":"bwpack-b","Bandwidth":2,"EIPId":"eip-2"}]}"#;
        let r: DescribeBandwidthPackageResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.total_count, Some(2));
        assert_eq!(r.data_sets[0].disable_time, Some(1_430_989_609));
        assert_eq!(r.data_sets[0].bandwidth, Some(200));
        assert_eq!(r.data_sets[0].eip_addr[0].ip, "106.75.1.1");
        assert_eq!(r.data_sets[1].bandwidth_package_id, "bwpack-b");
        assert!(r.data_sets[1].eip_addr.is_empty());
        let empty: DescribeBandwidthPackageResponse =
            serde_json::from_str(r#"{"RetCode":0,"TotalCount":0}"#).unwrap();
        assert!(empty.data_sets.is_empty());
    }

    #[test]
    fn the_recorded_user_info_parses() {
        let body = include_str!("../../../tests/fixtures/ucloud/GetUserInfo.json");
        let r: GetUserInfoResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.ret_code, Some(0));
        assert_eq!(r.action, "GetUserInfoResponse");
        let [user] = r.data_set.as_slice() else {
            panic!("one user: {r:?}");
        };
        assert_eq!(user.user_id, 50_000_001);
        assert_eq!(user.user_email, "natop-demo-50000001@example.com");
        assert_eq!(user.company_name, "natop demo 50000001");
        assert_eq!(user.admin, 1);
        assert_eq!(user.auth_state, "CERTIFIED");
    }

    #[test]
    fn user_info_numbers_may_be_strings() {
        let r: GetUserInfoResponse = serde_json::from_str(
            r#"{"RetCode":"0","DataSet":[{"UserId":"50000002","Admin":"0","UserEmail":7}]}"#,
        )
        .unwrap();
        assert_eq!(r.data_set[0].user_id, 50_000_002);
        assert_eq!(r.data_set[0].admin, 0);
        assert_eq!(r.data_set[0].user_email, "7");
        assert!(
            flatten(&GetUserInfo::default(), ListBase::Zero)
                .unwrap()
                .is_empty()
        );
    }
}
