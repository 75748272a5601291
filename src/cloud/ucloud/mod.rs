//! UCloud API family (UNet product): temporary bandwidth packages for EIPs.
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
}
