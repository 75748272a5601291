//! Parameter rules shared by the Alibaba handlers.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::emulator::ApiError;

/// A name: 2–128 characters, starting with a letter or a Chinese character,
/// not with `http://` or `https://`; letters, digits, `.`, `_`, `-`, Chinese.
pub fn is_valid_name(name: &str) -> bool {
    let count = name.chars().count();
    let Some(first) = name.chars().next() else {
        return false;
    };
    (2..=128).contains(&count)
        && (first.is_ascii_alphabetic() || is_chinese(first))
        && !name.starts_with("http://")
        && !name.starts_with("https://")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || is_chinese(c))
}

/// A description: 2–256 characters, not starting with `http://` or `https://`.
pub fn is_valid_description(text: &str) -> bool {
    (2..=256).contains(&text.chars().count())
        && !text.starts_with("http://")
        && !text.starts_with("https://")
}

/// A description that must also start with a letter or a Chinese character, as
/// seed 001 words it for ModifyNatGatewayAttribute and the legacy bandwidth
/// packages (CreateNatGateway's own rule is the plain [`is_valid_description`]).
pub fn is_valid_description_starting_with_letter(text: &str) -> bool {
    is_valid_description(text)
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || is_chinese(c))
}

fn is_chinese(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

/// Check an optional name; `code` names the error (e.g. `InvalidNatGatewayName.Malformed`).
pub fn check_name(name: Option<&str>, code: &str, what: &str) -> Result<(), ApiError> {
    match name {
        Some(n) if !n.is_empty() && !is_valid_name(n) => Err(ApiError::new(
            400,
            code,
            format!("The specified {what} is not valid."),
        )),
        _ => Ok(()),
    }
}

/// Check an optional description.
pub fn check_description(text: Option<&str>, code: &str, what: &str) -> Result<(), ApiError> {
    check_text(text, is_valid_description, code, what)
}

/// Check an optional description that must start with a letter or a Chinese
/// character ([`is_valid_description_starting_with_letter`]).
pub fn check_description_starting_with_letter(
    text: Option<&str>,
    code: &str,
    what: &str,
) -> Result<(), ApiError> {
    check_text(text, is_valid_description_starting_with_letter, code, what)
}

/// An empty or absent text counts as not given, so it passes.
fn check_text(
    text: Option<&str>,
    valid: fn(&str) -> bool,
    code: &str,
    what: &str,
) -> Result<(), ApiError> {
    match text {
        Some(d) if !d.is_empty() && !valid(d) => Err(ApiError::new(
            400,
            code,
            format!("The specified {what} is not valid."),
        )),
        _ => Ok(()),
    }
}

/// Parse an IPv4 address.
pub fn ipv4(text: &str) -> Option<Ipv4Addr> {
    text.trim().parse().ok()
}

/// Parse an IPv4 CIDR block (host bits must be zero).
pub fn cidr(text: &str) -> Option<Ipv4Net> {
    let net: Ipv4Net = text.trim().parse().ok()?;
    (net.trunc() == net).then_some(net)
}

/// A DNAT port: `1`–`65535`, a range `a/b` with a ≤ b, or `Any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// One port.
    One(u16),
    /// An inclusive range.
    Range(u16, u16),
    /// Every port (protocol `Any` only).
    Any,
}

impl Port {
    /// Parse a port as the API writes it.
    pub fn parse(text: &str) -> Option<Port> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("any") {
            return Some(Port::Any);
        }
        let one = |s: &str| s.parse::<u16>().ok().filter(|p| *p >= 1);
        match text.split_once('/') {
            Some((a, b)) => {
                let (a, b) = (one(a)?, one(b)?);
                (a <= b).then_some(Port::Range(a, b))
            }
            None => one(text).map(Port::One),
        }
    }

    /// How many ports it covers (`Any` covers all).
    pub fn len(self) -> u32 {
        match self {
            Port::One(_) => 1,
            Port::Range(a, b) => u32::from(b - a) + 1,
            Port::Any => 65535,
        }
    }

    /// Whether it covers nothing (never true for parsed ports).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["ab", "nat-gw_1.a", "网关", "a网关-1"] {
            assert!(is_valid_name(good), "{good}");
        }
        let long = "a".repeat(129);
        for bad in [
            "a",
            "1abc",
            "_abc",
            "http://x",
            "https://xy",
            "a b",
            long.as_str(),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_valid_description("a description with spaces"));
        assert!(!is_valid_description("x"));
        assert!(!is_valid_description("https://example.com"));
        assert!(is_valid_description("1st gateway"));
    }

    #[test]
    fn descriptions_starting_with_a_letter() {
        for good in ["a description", "第一 gateway", "Zz"] {
            assert!(is_valid_description_starting_with_letter(good), "{good}");
        }
        for bad in ["1st gateway", "_x y", " leading space", "x", "https://a.b"] {
            assert!(!is_valid_description_starting_with_letter(bad), "{bad}");
        }
        let code = "InvalidParameter.Description.Malformed";
        let check = |t| check_description_starting_with_letter(t, code, "Description");
        assert!(check(None).is_ok() && check(Some("")).is_ok());
        assert!(check(Some("a fine one")).is_ok());
        let e = check(Some("1st")).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, code));
        assert_eq!(e.message, "The specified Description is not valid.");
        assert!(check_description(Some("1st"), code, "Description").is_ok());
    }

    #[test]
    fn ports_and_addresses() {
        assert_eq!(Port::parse("80"), Some(Port::One(80)));
        assert_eq!(Port::parse("10/20"), Some(Port::Range(10, 20)));
        assert_eq!(Port::parse("Any"), Some(Port::Any));
        for bad in ["0", "65536", "70000", "20/10", "a", "", "1/0"] {
            assert_eq!(Port::parse(bad), None, "{bad}");
        }
        assert_eq!(Port::parse("10/20").map(Port::len), Some(11));
        assert!(ipv4("10.0.0.1").is_some() && ipv4("10.0.0.256").is_none());
        assert!(cidr("10.0.0.0/8").is_some());
        assert!(cidr("10.0.0.1/8").is_none());
        assert!(cidr("116.1.1.28/33").is_none());
    }
}
