//! Classification of Alibaba error codes (see the retry rules of the official
//! SDKs): throttling, service failures and busy states are retried; not-found
//! means "already gone" on delete; everything else is not fixed by retrying.
//! Only the service's own not-found codes mean not-found: an HTTP 404 alone
//! can come from a wrong path or a proxy (see
//! [`ErrorCategory::from_bare_status`] for answers without a `Code`).

use crate::cloud::ErrorCategory;

/// Busy-state codes that clear by themselves.
const BUSY_CODES: &[&str] = &[
    "OperationConflict",
    "TaskConflict",
    "LastTokenProcessing",
    "SystemBusy",
    "IncorretForwardEntryStatus",
    "IncorretSnatEntryStatus",
    "IncorrectForwardEntryStatus",
    "IncorrectSnatEntryStatus",
    "VswitchStatusError",
    "VpcStatusError",
    "InvalidVPCStatus",
    "OperationUnsupported.EipInBinding",
    "IncorrectEipStatus",
    "IncorrectInstanceStatus",
];

/// `*.NotFound` codes that name configuration, not the addressed resource.
const NOT_FOUND_BUT_CONFIG: &[(&str, ErrorCategory)] = &[
    ("InvalidAccessKeyId.NotFound", ErrorCategory::Auth),
    ("InvalidRegionId.NotFound", ErrorCategory::Validation),
    ("InvalidVpcId.NotFound", ErrorCategory::Dependency),
    ("InvalidVSwitchId.NotFound", ErrorCategory::Dependency),
    ("InvalidVswitchId.NotFound", ErrorCategory::Dependency),
    ("InvalidZoneId.NotFound", ErrorCategory::Dependency),
    // The address does not serve this API (another product's endpoint, or
    // `Version` of another product): nothing is known about the resource.
    ("InvalidAction.NotFound", ErrorCategory::Endpoint),
];

/// Classify an Alibaba error answer that carries a `Code`, by that code and
/// then the HTTP status.
pub fn classify(status: u16, code: &str) -> ErrorCategory {
    if let Some((_, category)) = NOT_FOUND_BUT_CONFIG.iter().find(|(c, _)| *c == code) {
        return *category;
    }
    if code.contains("Throttling") {
        return ErrorCategory::Throttled;
    }
    if ["ServiceUnavailable", "InternalError", "UnknownError"]
        .iter()
        .any(|c| code.contains(c))
    {
        return ErrorCategory::Unavailable;
    }
    if BUSY_CODES.contains(&code)
        || code.starts_with("IncorrectStatus")
        || (code.starts_with("OperationFailed.") && code.ends_with("InMiddleStatus"))
    {
        return ErrorCategory::Busy;
    }
    if code == "IdempotentParameterMismatch" || code.contains("AlreadyExist") {
        return ErrorCategory::Conflict;
    }
    if code.contains("FinancialLock") || code.contains("Financail") {
        return ErrorCategory::FinancialLock;
    }
    if code.ends_with(".NotFound")
        || code.ends_with("NotExist")
        || code.to_ascii_uppercase().ends_with("NOT_EXIST")
    {
        return ErrorCategory::NotFound;
    }
    if code.starts_with("Signature")
        || code.starts_with("IncompleteSignature")
        || code.starts_with("InvalidTimeStamp")
        || code.starts_with("InvalidSecurityToken")
        || code.starts_with("InvalidAccessKeyId")
        || code.starts_with("Forbidden.RAM")
        || code.starts_with("NoPermission")
        || code == "Forbidden"
    {
        return ErrorCategory::Auth;
    }
    if code.starts_with("QuotaExceed") || code.contains("Quota") {
        return ErrorCategory::Quota;
    }
    if code.starts_with("DependencyViolation")
        || code.contains("InUse")
        || code.contains("Dependency")
    {
        return ErrorCategory::Dependency;
    }
    if code.starts_with("Missing")
        || code.starts_with("Invalid")
        || code.contains("Malformed")
        || code.contains("ValueNotSupport")
        || code.starts_with("UnsupportedParameter")
    {
        return ErrorCategory::Validation;
    }
    match status {
        429 => ErrorCategory::Throttled,
        500 | 502 | 503 | 504 => ErrorCategory::Unavailable,
        401 | 403 => ErrorCategory::Auth,
        409 => ErrorCategory::Busy,
        _ => ErrorCategory::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorCategory::*;

    #[test]
    fn classification_table() {
        let table = [
            (400, "Throttling", Throttled),
            (400, "Throttling.User", Throttled),
            (400, "Throttling.Api", Throttled),
            (503, "ServiceUnavailable", Unavailable),
            (500, "InternalError", Unavailable),
            (500, "UnknownError", Unavailable),
            (409, "OperationConflict", Busy),
            (400, "IncorretForwardEntryStatus", Busy),
            (400, "IncorretSnatEntryStatus", Busy),
            (400, "IncorrectStatus.NatGateway", Busy),
            (400, "OperationFailed.NatGwInMiddleStatus", Busy),
            (400, "OperationUnsupported.EipInBinding", Busy),
            (400, "TaskConflict", Busy),
            (400, "LastTokenProcessing", Busy),
            (404, "InvalidNatGatewayId.NotFound", NotFound),
            (404, "InvalidForwardEntryId.NotFound", NotFound),
            (404, "InvalidSnatEntryId.NotFound", NotFound),
            (400, "NATGW_NOT_EXIST", NotFound),
            (400, "IncorrectEipStatus", Busy),
            (404, "InvalidBandwidthPackageId.NotFound", NotFound),
            (404, "InvalidAccessKeyId.NotFound", Auth),
            (404, "InvalidRegionId.NotFound", Validation),
            (404, "InvalidVpcId.NotFound", Dependency),
            (404, "InvalidAction.NotFound", Endpoint),
            (400, "SignatureDoesNotMatch", Auth),
            (400, "SignatureNonceUsed", Auth),
            (400, "InvalidTimeStamp.Expired", Auth),
            (400, "IncompleteSignature", Auth),
            (403, "Forbidden.RAM", Auth),
            (400, "IdempotentParameterMismatch", Conflict),
            (400, "QuotaExceeded.BandwidthPackageIps", Quota),
            (400, "BandwidthPackageNum.QuotaFull", Quota),
            (404, "BandwidthPackage.FinancialLocked", FinancialLock),
            (400, "DependencyViolation.BandwidthPackages", Dependency),
            (400, "MissingParameter", Validation),
            (400, "MissingVpcId", Validation),
            (400, "InvalidParameter", Validation),
            (400, "InvalidNatGatewayName.Malformed", Validation),
            (400, "InvalidIpCount.ValueNotSupported", Validation),
            (502, "SomethingNew", Unavailable),
            (400, "SomethingNew", Other),
            // A code the table does not know, on a 404: the status alone
            // never means the resource is gone.
            (404, "SomethingNew", Other),
            (409, "SomethingNew", Busy),
        ];
        for (status, code, want) in table {
            assert_eq!(classify(status, code), want, "{status} {code}");
        }
    }
}
