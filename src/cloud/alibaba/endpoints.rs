//! Which endpoint serves a product in a region, as Alibaba Cloud's official
//! SDK decides it: the product's endpoint map for the regions it names, else
//! the regional pattern `<product>.<region>.aliyuncs.com`. The data is the
//! SDK's own (`endpoints.json`, its source named inside); a ProviderConfig's
//! `endpoint` and `stsEndpoint` override it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::Service;

/// The SDK's endpoint data natop ships.
const DATA: &str = include_str!("endpoints.json");

#[derive(Debug, Default, Deserialize)]
struct Data {
    /// The regions the SDK knows.
    regions: Vec<String>,
    /// By product code (`vpc`, `sts`).
    products: BTreeMap<String, ProductData>,
}

#[derive(Debug, Default, Deserialize)]
struct ProductData {
    /// Region → host, where it is not the pattern's.
    map: BTreeMap<String, String>,
    /// `regional`: `<product>.<region>.aliyuncs.com`; `central`:
    /// `<product>.aliyuncs.com`.
    rule: String,
    /// The product's global host.
    global: Option<String>,
}

/// The data, read once. It is compiled in; a unit test shows it parses, and
/// should it not, every product falls back to its global host.
static ENDPOINTS: LazyLock<Data> = LazyLock::new(|| serde_json::from_str(DATA).unwrap_or_default());

/// The product code of `service` in the SDK's data.
fn code(service: Service) -> &'static str {
    match service {
        Service::Vpc => "vpc",
        Service::Sts => "sts",
    }
}

/// The host that serves `service` in `region` (`vpc.aliyuncs.com`,
/// `vpc.eu-central-1.aliyuncs.com`, ...).
pub fn host(service: Service, region: &str) -> String {
    let product = code(service);
    let region = region.trim().to_ascii_lowercase();
    let data = ENDPOINTS.products.get(product);
    if let Some(host) = data.and_then(|d| d.map.get(&region)) {
        return host.clone();
    }
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    match data.map(|d| d.rule.as_str()) {
        Some("central") => format!("{product}.aliyuncs.com"),
        _ if valid => format!("{product}.{region}.aliyuncs.com"),
        _ => data
            .and_then(|d| d.global.clone())
            .unwrap_or_else(|| format!("{product}.aliyuncs.com")),
    }
}

/// The https URL of [`host`].
pub fn url(service: Service, region: &str) -> String {
    format!("https://{}/", host(service, region))
}

/// Every region the SDK's data names (its region list and the products'
/// maps), sorted.
pub fn known_regions() -> Vec<String> {
    let mut all: Vec<String> = ENDPOINTS.regions.clone();
    for product in ENDPOINTS.products.values() {
        all.extend(product.map.keys().cloned());
    }
    all.sort();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_data_parses_and_names_both_products() {
        let data: Data = serde_json::from_str(DATA).expect("endpoints.json parses");
        assert!(data.regions.len() > 40, "{}", data.regions.len());
        for product in ["vpc", "sts"] {
            let p = &data.products[product];
            assert!(p.map.len() > 20, "{product}");
            assert_eq!(p.rule, "regional", "{product}");
        }
        let source: serde_json::Value = serde_json::from_str(DATA).unwrap();
        assert!(
            source["source"]
                .as_str()
                .is_some_and(|s| s.contains("aliyun-python-sdk-vpc")),
            "the data names its source"
        );
    }

    #[test]
    fn regions_resolve_as_the_sdk_does() {
        for (service, region, want) in [
            // The central endpoint, where the SDK's map says so.
            (Service::Vpc, "cn-hangzhou", "vpc.aliyuncs.com"),
            (Service::Vpc, "cn-shanghai", "vpc.aliyuncs.com"),
            (Service::Vpc, "ap-southeast-1", "vpc.aliyuncs.com"),
            // Regional ones.
            (
                Service::Vpc,
                "eu-central-1",
                "vpc.eu-central-1.aliyuncs.com",
            ),
            (
                Service::Vpc,
                "ap-northeast-1",
                "vpc.ap-northeast-1.aliyuncs.com",
            ),
            // A region the data does not name: the regional pattern.
            (
                Service::Vpc,
                "xx-newregion-9",
                "vpc.xx-newregion-9.aliyuncs.com",
            ),
            (Service::Vpc, "CN-Chengdu ", "vpc.cn-chengdu.aliyuncs.com"),
            // Nothing usable: the global host.
            (Service::Vpc, "", "vpc.aliyuncs.com"),
            (Service::Vpc, "no/such", "vpc.aliyuncs.com"),
            (Service::Sts, "cn-hangzhou", "sts.cn-hangzhou.aliyuncs.com"),
            (Service::Sts, "cn-wuhan", "sts.aliyuncs.com"),
            (
                Service::Sts,
                "cn-north-2-gov-1",
                "sts-vpc.cn-north-2-gov-1.aliyuncs.com",
            ),
        ] {
            assert_eq!(host(service, region), want, "{service:?} {region:?}");
        }
        assert_eq!(
            url(Service::Vpc, "eu-central-1"),
            "https://vpc.eu-central-1.aliyuncs.com/"
        );
        let regions = known_regions();
        assert!(regions.contains(&"cn-hangzhou".to_string()));
        assert!(regions.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
    }
}
