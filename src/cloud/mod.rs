//! Cloud API clients: typed, signed, rate-limited and retrying.

pub mod alibaba;
pub mod call;
pub mod error;
pub mod rate_limit;
pub mod retry;
pub mod ucloud;
pub mod wire;

pub use call::ClientConfig;
pub use error::{CloudError, ErrorCategory, Provider};
pub use rate_limit::{RateLimit, RateLimits};
pub use retry::RetryPolicy;
