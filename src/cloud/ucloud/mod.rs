//! UCloud API family: temporary bandwidth packages for EIPs (UNet product),
//! and the user a key pair belongs to (UAccount `GetUserInfo`).
//!
//! Every call is a POST of flat parameters (`Action`, `PublicKey`, `Signature`
//! and the action's own) answered with HTTP 200 and a `RetCode` (0 = success).

pub mod actions;
pub mod client;
pub mod signer;

pub use client::{UcloudClient, UcloudCredentials, classify};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The public API gateway used when no endpoint is configured.
pub const DEFAULT_ENDPOINT: &str = "https://api.ucloud.cn";

/// The page size the paginator asks for.
pub const PAGE_LIMIT: u32 = 100;

/// `RetCode` values natop knows. The gateway codes (1xx) are documented. The
/// product errors below 2000 are the ones natop's emulator answers with (the
/// public documents list no UNet codes for these cases); codes of 2000 and
/// above are retried, as the official SDKs do.
pub mod codes {
    /// Service unavailable (retry).
    pub const SERVICE_UNAVAILABLE: i64 = 150;
    /// Throttled (retry).
    pub const THROTTLED: i64 = 153;
    /// The Action parameter is missing.
    pub const MISSING_ACTION: i64 = 160;
    /// The Action does not exist.
    pub const UNKNOWN_ACTION: i64 = 161;
    /// The Signature parameter is missing.
    pub const MISSING_SIGNATURE: i64 = 170;
    /// The signature does not verify.
    pub const SIGNATURE_ERROR: i64 = 171;
    /// The PublicKey names no user.
    pub const USER_NOT_EXIST: i64 = 172;
    /// A parameter is missing or not acceptable.
    pub const PARAMS_ERROR: i64 = 230;
    /// The EIP does not exist.
    pub const EIP_NOT_FOUND: i64 = 260;
    /// The bandwidth package does not exist (or has expired).
    pub const PACKAGE_NOT_FOUND: i64 = 261;
    /// The EIP's billing does not allow bandwidth packages (shared bandwidth).
    pub const EIP_PAY_MODE: i64 = 262;
}

/// A typed UCloud action.
pub trait Action: Serialize + Send + Sync {
    /// The action name on the wire.
    const NAME: &'static str;
    /// Whether repeating the call after an unknown outcome is harmless. A
    /// non-idempotent call (a purchase) is never retried when its outcome is
    /// unknown: the client returns `UnknownOutcome` so the caller can look first.
    const IDEMPOTENT: bool;
    /// The typed success response.
    type Response: DeserializeOwned + Send;
}

/// A listing action paged with `Limit` and `Offset`.
pub trait Paginated: Action + Clone {
    /// One element of the listed collection.
    type Item: Send;
    /// Ask for `limit` items starting at `offset`.
    fn set_window(&mut self, offset: u32, limit: u32);
    /// Total number of items across all pages.
    fn total_count(response: &Self::Response) -> u32;
    /// The items of a response.
    fn items(response: Self::Response) -> Vec<Self::Item>;
    /// An item's id, to notice one listed twice.
    fn item_id(item: &Self::Item) -> Option<&str>;
}
