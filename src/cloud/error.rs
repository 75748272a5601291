//! The one error type of the cloud clients, and its bounded classification.

use std::fmt;

/// Which cloud an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Alibaba Cloud VPC API.
    Alibaba,
    /// UCloud API family.
    UCloud,
}

impl Provider {
    /// Lower-case name used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Alibaba => "alibaba",
            Provider::UCloud => "ucloud",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bounded classification of cloud errors: metric label, event reason, and
/// the basis of the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// Flow control (`Throttling*`, UCloud 153): retry later.
    Throttled,
    /// The service failed (`InternalError`, `ServiceUnavailable`, 5xx): retry later.
    Unavailable,
    /// The resource or table is busy (`OperationConflict`, `Incorret*Status`, ...): retry later.
    Busy,
    /// The addressed resource does not exist.
    NotFound,
    /// Credentials, signature, clock or permissions are wrong.
    Auth,
    /// The request is invalid; retrying does not help.
    Validation,
    /// A quota is exhausted.
    Quota,
    /// Something the request depends on is missing or in the way.
    Dependency,
    /// The account or resource is locked for unpaid bills.
    FinancialLock,
    /// The request conflicts with an existing resource or idempotency token.
    Conflict,
    /// The connection failed before an answer arrived.
    Transport,
    /// No answer arrived in time.
    Timeout,
    /// The answer could not be decoded.
    Decode,
    /// A non-idempotent call may or may not have taken effect.
    UnknownOutcome,
    /// The caller cancelled the call.
    Cancelled,
    /// The address answered, but not as the service does (wrong path, a proxy,
    /// a captive portal): nothing can be concluded about the resource, so a
    /// bare 404 never reads as "already gone". Retried, as the cause is often
    /// a proxy or ingress that recovers.
    Endpoint,
    /// Temporary credentials could not be had (STS refused the OIDC token or
    /// the role, the token file is unreadable, the metadata service is out of
    /// reach). Objects wait: their calls are not retried one by one, the
    /// ProviderConfig's check names the cause, and it can heal (a renewed
    /// token, a trust policy fixed).
    Credentials,
    /// Anything else.
    Other,
}

impl ErrorCategory {
    /// Stable CamelCase name, usable as a metric label and an event reason.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::Throttled => "Throttled",
            ErrorCategory::Unavailable => "Unavailable",
            ErrorCategory::Busy => "Busy",
            ErrorCategory::NotFound => "NotFound",
            ErrorCategory::Auth => "Auth",
            ErrorCategory::Validation => "Validation",
            ErrorCategory::Quota => "Quota",
            ErrorCategory::Dependency => "Dependency",
            ErrorCategory::FinancialLock => "FinancialLock",
            ErrorCategory::Conflict => "Conflict",
            ErrorCategory::Transport => "Transport",
            ErrorCategory::Timeout => "Timeout",
            ErrorCategory::Decode => "Decode",
            ErrorCategory::UnknownOutcome => "UnknownOutcome",
            ErrorCategory::Cancelled => "Cancelled",
            ErrorCategory::Endpoint => "Endpoint",
            ErrorCategory::Credentials => "Credentials",
            ErrorCategory::Other => "Other",
        }
    }

    /// Whether a later identical call can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCategory::Throttled
                | ErrorCategory::Unavailable
                | ErrorCategory::Busy
                | ErrorCategory::Transport
                | ErrorCategory::Timeout
                | ErrorCategory::Endpoint
                | ErrorCategory::Credentials
        )
    }

    /// The category of an answer that lacks the service's error body (no
    /// Alibaba `Code`, no UCloud `RetCode`): only the HTTP status is known,
    /// and it may come from anything between natop and the service. So a 404
    /// or a 403 says nothing about the resource or the credentials.
    pub fn from_bare_status(status: u16) -> ErrorCategory {
        match status {
            429 => ErrorCategory::Throttled,
            500 | 502 | 503 | 504 => ErrorCategory::Unavailable,
            _ => ErrorCategory::Endpoint,
        }
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a cloud call. Messages never carry credentials, signatures or
/// request URLs.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The service answered with an error.
    #[error(
        "{provider} {action} failed: {code}: {message} (HTTP {status}, RequestId {request_id})"
    )]
    Service {
        /// Cloud that answered.
        provider: Provider,
        /// Action that failed.
        action: String,
        /// HTTP status of the answer.
        status: u16,
        /// Error code (`Code`; for UCloud the `RetCode` number).
        code: String,
        /// The service's message.
        message: String,
        /// Request id, for support tickets.
        request_id: String,
        /// Classification of `code`.
        category: ErrorCategory,
    },
    /// No answer: connection failure, reset, or time-out.
    #[error("{provider} {action} failed: {detail}")]
    Transport {
        /// Cloud called.
        provider: Provider,
        /// Action called.
        action: String,
        /// What went wrong, without the URL.
        detail: String,
        /// `Timeout` when the answer did not come in time, else `Transport`.
        category: ErrorCategory,
    },
    /// The answer could not be decoded into the typed response.
    #[error("{provider} {action}: cannot decode the answer (HTTP {status}): {detail}")]
    Decode {
        /// Cloud called.
        provider: Provider,
        /// Action called.
        action: String,
        /// HTTP status of the answer.
        status: u16,
        /// The decoder's complaint.
        detail: String,
    },
    /// A call that has no idempotency token may have taken effect: look before retrying.
    #[error(
        "{provider} {action}: outcome unknown ({detail}); list the resources before retrying, \
         a blind retry could create a second one"
    )]
    UnknownOutcome {
        /// Cloud called.
        provider: Provider,
        /// Action called.
        action: String,
        /// The failure that hid the outcome.
        detail: String,
    },
    /// The call was cancelled (shutdown).
    #[error("{provider} {action}: cancelled")]
    Cancelled {
        /// Cloud called.
        provider: Provider,
        /// Action called.
        action: String,
    },
    /// Temporary credentials could not be had.
    #[error("{provider} credentials unavailable ({reason}): {detail}")]
    Credentials {
        /// Cloud whose credentials these are.
        provider: Provider,
        /// Bounded reason (`OidcTokenRejected`, `AssumeRoleFailed`, ...).
        reason: &'static str,
        /// What the credential service said, without any secret.
        detail: String,
    },
    /// The request could not be built (a programming or configuration error).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl CloudError {
    /// The bounded category of this error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            CloudError::Service { category, .. } | CloudError::Transport { category, .. } => {
                *category
            }
            CloudError::Decode { .. } => ErrorCategory::Decode,
            CloudError::UnknownOutcome { .. } => ErrorCategory::UnknownOutcome,
            CloudError::Cancelled { .. } => ErrorCategory::Cancelled,
            CloudError::Credentials { .. } => ErrorCategory::Credentials,
            CloudError::InvalidRequest(_) => ErrorCategory::Validation,
        }
    }

    /// Whether retrying the same call can succeed.
    pub fn is_retryable(&self) -> bool {
        self.category().is_retryable()
    }

    /// Whether the addressed resource does not exist (on delete: already gone).
    pub fn is_not_found(&self) -> bool {
        self.category() == ErrorCategory::NotFound
    }

    /// The error without the per-call RequestId: stable across retries, so a
    /// condition built from it does not change (and re-trigger a reconcile) on
    /// every attempt.
    pub fn stable_message(&self) -> String {
        match self {
            CloudError::Service {
                provider,
                action,
                status,
                code,
                message,
                ..
            } => format!("{provider} {action} failed: {code}: {message} (HTTP {status})"),
            other => other.to_string(),
        }
    }

    /// The service's error code, when the service answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudError::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_categories() {
        for c in [
            ErrorCategory::Throttled,
            ErrorCategory::Unavailable,
            ErrorCategory::Busy,
            ErrorCategory::Transport,
            ErrorCategory::Timeout,
            ErrorCategory::Endpoint,
        ] {
            assert!(c.is_retryable(), "{c}");
        }
        for c in [
            ErrorCategory::Validation,
            ErrorCategory::Quota,
            ErrorCategory::Auth,
            ErrorCategory::NotFound,
            ErrorCategory::UnknownOutcome,
            ErrorCategory::Decode,
            ErrorCategory::Cancelled,
        ] {
            assert!(!c.is_retryable(), "{c}");
        }
    }

    #[test]
    fn a_bare_status_is_never_not_found_or_auth() {
        use ErrorCategory::*;
        let table = [
            (429, Throttled),
            (500, Unavailable),
            (502, Unavailable),
            (503, Unavailable),
            (504, Unavailable),
            (404, Endpoint),
            (401, Endpoint),
            (403, Endpoint),
            (407, Endpoint),
            (400, Endpoint),
            (301, Endpoint),
            (200, Endpoint),
            (501, Endpoint),
        ];
        for (status, want) in table {
            assert_eq!(ErrorCategory::from_bare_status(status), want, "{status}");
        }
    }
}
