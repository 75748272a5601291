//! Alibaba Cloud VPC API (version 2016-04-28): NAT gateways, DNAT and SNAT
//! tables, NAT bandwidth packages, IPv6 internet bandwidth and EIPs; and the
//! one STS action (version 2015-04-01) that says which account a key is of.
//!
//! Every action is a request type that serializes (PascalCase, the wire names)
//! into flat RPC parameters and names its response type through [`Action`].
//! Request types also deserialize from flat parameters (see
//! [`crate::cloud::wire::unflatten`]) so that the emulator speaks the same shapes.

pub mod actions;
pub mod client;
pub mod credentials;
pub mod endpoints;
pub mod error;
pub mod signer;

pub use client::{AlibabaClient, AlibabaCredentials};
pub use credentials::{CredentialProvider, CredentialSource, ServerClock};
pub use error::classify;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The API version every VPC NAT action is sent with.
pub const API_VERSION: &str = "2016-04-28";

/// The API version of the STS actions.
pub const STS_API_VERSION: &str = "2015-04-01";

/// The public endpoint used when none is configured.
pub const DEFAULT_ENDPOINT: &str = "https://vpc.aliyuncs.com";

/// The public STS endpoint, used when neither an STS endpoint nor an endpoint
/// is configured.
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.aliyuncs.com";

/// The Alibaba Cloud product an action belongs to: it decides the `Version`
/// sent and the endpoint called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// The VPC API (NAT gateways, entries, bandwidth packages, EIPs, IPv6).
    Vpc,
    /// Security Token Service (caller identity).
    Sts,
}

impl Service {
    /// The `Version` parameter of the product's actions.
    pub const fn version(self) -> &'static str {
        match self {
            Service::Vpc => API_VERSION,
            Service::Sts => STS_API_VERSION,
        }
    }

    /// The product whose actions are sent with `version`, if any.
    pub fn of_version(version: &str) -> Option<Service> {
        [Service::Vpc, Service::Sts]
            .into_iter()
            .find(|s| s.version() == version)
    }

    /// The host name the public service answers errors with (`HostId`).
    pub const fn host(self) -> &'static str {
        match self {
            Service::Vpc => "vpc.aliyuncs.com",
            Service::Sts => "sts.aliyuncs.com",
        }
    }

    /// The product name as the troubleshooting links spell it.
    pub const fn product(self) -> &'static str {
        match self {
            Service::Vpc => "Vpc",
            Service::Sts => "Sts",
        }
    }
}

/// The page size every paginator asks for: the largest the service allows.
pub const MAX_PAGE_SIZE: u32 = 50;

/// A typed RPC action.
pub trait Action: Serialize + Send + Sync {
    /// The action name on the wire (`Action=` parameter).
    const NAME: &'static str;
    /// The product the action belongs to.
    const SERVICE: Service = Service::Vpc;
    /// The `Version=` parameter: the product's.
    const VERSION: &'static str = Self::SERVICE.version();
    /// Whether the call is signed with the client's credentials. Only
    /// `AssumeRoleWithOIDC` is not: its OIDC token is the proof.
    const SIGNED: bool = true;
    /// The typed success response.
    type Response: DeserializeOwned + Send;
}

/// Paging fields common to every `Describe*` response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// Total number of items across all pages.
    pub total_count: u32,
    /// The 1-based number of the page returned.
    pub page_number: u32,
    /// The page size the service applied.
    pub page_size: u32,
}

impl Page {
    /// The paging fields of a `Describe*` response as the response types hold
    /// them (`TotalCount`, `PageNumber`, `PageSize`); missing values read as 0.
    pub fn from_parts(
        total_count: Option<u32>,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Page {
        Page {
            total_count: total_count.unwrap_or(0),
            page_number: page_number.unwrap_or(0),
            page_size: page_size.unwrap_or(0),
        }
    }
}

/// A `Describe*` action whose results come in pages (`PageNumber`, `PageSize`,
/// `TotalCount`).
pub trait Paginated: Action + Clone {
    /// One element of the listed collection.
    type Item: Send;
    /// Ask for page `number` (1-based) of `size` items.
    fn set_page(&mut self, number: u32, size: u32);
    /// The paging fields of a response.
    fn page(response: &Self::Response) -> Page;
    /// The items of a response.
    fn items(response: Self::Response) -> Vec<Self::Item>;
    /// An item's id, to see one listed twice; `None` when it has none.
    fn item_id(_item: &Self::Item) -> Option<&str> {
        None
    }
}

/// The recorded answer `tests/fixtures/alibaba/<action>.json`, as text.
#[cfg(test)]
pub(crate) fn fixture_text(action: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/alibaba/{action}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The recorded answer `tests/fixtures/alibaba/<action>.json`, decoded.
#[cfg(test)]
pub(crate) fn fixture<T: DeserializeOwned>(action: &str) -> T {
    serde_json::from_str(&fixture_text(action))
        .unwrap_or_else(|e| panic!("fixture {action}.json: {e}"))
}
