//! The single-field checks the kinds' `validate` functions share (NatGateway's
//! in the controller included). Each names the field it checks, so a message
//! says exactly what to change, and each repeats a schema pattern or range for
//! objects stored before the schema had it: `Some(message)` for a problem.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Schema pattern of `spec.region`: lower-case letters, digits and `-`.
pub(crate) const REGION_PATTERN: &str = r"^[a-z0-9-]+$";

/// Schema pattern of a console name (its length is 2–128 besides): a letter or a
/// Chinese character, then letters, digits, Chinese characters, `.`, `_`, `-`.
pub(crate) const NAME_PATTERN: &str =
    r"^[a-zA-Z\x{4e00}-\x{9fa5}][a-zA-Z0-9\x{4e00}-\x{9fa5}._-]*$";

/// Schema pattern of the name of an object in the same namespace (its length
/// is 1–253 besides).
pub(crate) const OBJECT_NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

/// Schema pattern of an IPv4 address (dotted quad, no leading zeros).
pub(crate) const IPV4_PATTERN: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$";

/// Schema pattern of an IPv4 CIDR block (`a.b.c.d/n`, n 0–32).
pub(crate) const CIDR_PATTERN: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12][0-9]|[0-9])$";

/// `Ok` when nothing is wrong, else every problem joined with `; `.
pub(crate) fn into_result(problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Exactly one of two fields is set; `hint` says what each is for.
pub(crate) fn one_of(
    (first, first_set): (&str, bool),
    (second, second_set): (&str, bool),
    hint: &str,
) -> Option<String> {
    match (first_set, second_set) {
        (true, true) => Some(format!(
            "{first} and {second} are both set: keep only one ({hint})"
        )),
        (false, false) => Some(format!(
            "neither {first} nor {second} is set: set one ({hint})"
        )),
        _ => None,
    }
}

/// `spec.region`, when set: lower-case letters, digits and `-`.
pub(crate) fn region_problem(region: Option<&str>) -> Option<String> {
    let region = region?;
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (!valid).then(|| {
        format!("spec.region is \"{region}\": set a region id like cn-hangzhou (lower-case letters, digits and -)")
    })
}

/// `value` must be `prefix` followed by lower-case letters and digits.
pub(crate) fn id_problem(field: &str, value: &str, prefix: &str) -> Option<String> {
    let valid = value.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    (!valid).then(|| {
        format!("{field} is \"{value}\": set an id like {prefix}abc123 ({prefix} then lower-case letters and digits)")
    })
}

/// The name of an object in the same namespace (a DNS subdomain).
pub(crate) fn object_name_problem(field: &str, name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let valid = (1..=253).contains(&bytes.len())
        && edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'));
    (!valid).then(|| {
        format!("{field} is \"{name}\": set the name of an object in this namespace (lower-case letters, digits, - and .)")
    })
}

/// An IPv4 address in dotted-quad form without leading zeros.
pub(crate) fn ipv4_problem(field: &str, ip: &str) -> Option<String> {
    (!is_ipv4(ip)).then(|| format!("{field} is \"{ip}\": set an IPv4 address like 192.168.0.10"))
}

/// Whether `text` is an IPv4 address as [`IPV4_PATTERN`] accepts it.
pub(crate) fn is_ipv4(text: &str) -> bool {
    let octets_plain = text
        .split('.')
        .all(|o| !o.is_empty() && (o == "0" || !o.starts_with('0')));
    octets_plain && text.parse::<Ipv4Addr>().is_ok()
}

/// `a.b.c.d/n` as [`CIDR_PATTERN`] accepts it, with the host bits zero.
pub(crate) fn cidr_problem(field: &str, cidr: &str) -> Option<String> {
    let malformed = || {
        Some(format!(
            "{field} is \"{cidr}\": set an IPv4 CIDR block like 192.168.1.0/24"
        ))
    };
    let Some((ip, prefix)) = cidr.split_once('/') else {
        return malformed();
    };
    let prefix_plain = !prefix.is_empty()
        && prefix.len() <= 2
        && (prefix == "0" || !prefix.starts_with('0'))
        && prefix.bytes().all(|b| b.is_ascii_digit());
    let Some(prefix) = prefix_plain.then(|| prefix.parse::<u8>().ok()).flatten() else {
        return malformed();
    };
    if !is_ipv4(ip) || prefix > 32 {
        return malformed();
    }
    let net = ipnet::Ipv4Net::new(ip.parse().ok()?, prefix).ok()?;
    (net.trunc() != net).then(|| {
        format!(
            "{field} is \"{cidr}\": its host bits are set; use {}",
            net.trunc()
        )
    })
}

/// A package IP index: 0 to 49.
pub(crate) fn index_problem(field: &str, index: u32) -> Option<String> {
    (index > 49).then(|| {
        format!(
            "{field} is {index}: set 0 to 49 (a position in the package's status.publicIpAddresses)"
        )
    })
}

/// A number from `min` to `max`, counted in `unit`.
pub(crate) fn range_problem(
    field: &str,
    value: u32,
    min: u32,
    max: u32,
    unit: &str,
) -> Option<String> {
    (!(min..=max).contains(&value))
        .then(|| format!("{field} is {value}: set {min} to {max} {unit}"))
}

/// A list taking at most `max` entries (`entries` names them and `holder` what
/// takes them), each passing `entry_problem` (given the field `an entry of
/// {field}`), none twice.
pub(crate) fn distinct_list_problems(
    field: &str,
    list: &[String],
    max: usize,
    entries: &str,
    holder: &str,
    entry_problem: impl Fn(&str, &str) -> Option<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if list.len() > max {
        problems.push(format!(
            "{field} lists {} {entries}: {holder} takes at most {max}",
            list.len()
        ));
    }
    let entry_field = format!("an entry of {field}");
    let mut seen = BTreeSet::new();
    for entry in list {
        problems.extend(entry_problem(&entry_field, entry));
        if !seen.insert(entry.as_str()) {
            problems.push(format!(
                "{field} lists {entry} more than once: remove the duplicate"
            ));
        }
    }
    problems
}

/// The schema's Chinese range (`\x{4e00}-\x{9fa5}`).
fn is_chinese(c: char) -> bool {
    ('\u{4e00}'..='\u{9fa5}').contains(&c)
}

/// Whether `text` starts with a letter or a Chinese character.
pub(crate) fn starts_with_letter(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || is_chinese(c))
}

/// `text` must start with a letter or a Chinese character.
pub(crate) fn letter_start_problem(field: &str, text: &str) -> Option<String> {
    (!starts_with_letter(text))
        .then(|| format!("{field} \"{text}\" must start with a letter or a Chinese character"))
}

/// A console name: 2–128 characters, starting with a letter or a Chinese
/// character; letters, digits, Chinese characters, `.`, `_`, `-`.
pub(crate) fn name_problem(field: &str, name: &str) -> Option<String> {
    let length = name.chars().count();
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || is_chinese(c));
    if !(2..=128).contains(&length) {
        return Some(format!("{field} has {length} characters: use 2 to 128"));
    }
    letter_start_problem(field, name).or_else(|| {
        (!rest_ok).then(|| {
            format!("{field} \"{name}\" may contain only letters, digits, Chinese characters, '.', '_' and '-'")
        })
    })
}

/// A console description: 2–256 characters, not starting with `http://` or
/// `https://`. Kinds that also want a letter first add [`letter_start_problem`].
pub(crate) fn description_problem(field: &str, description: &str) -> Option<String> {
    let length = description.chars().count();
    if !(2..=256).contains(&length) {
        Some(format!("{field} has {length} characters: use 2 to 256"))
    } else if description.starts_with("http://") || description.starts_with("https://") {
        Some(format!("{field} must not start with http:// or https://"))
    } else {
        None
    }
}

#[cfg(test)]
/// Tests: whether `text` matches the schema `pattern`, evaluated the way the API
/// server's CEL `matches` does (RE2 syntax).
pub(crate) fn pattern_matcher(pattern: &'static str) -> impl Fn(&str) -> bool {
    use kube::core::cel::cel::{Context, Program, Value};
    let program = Program::compile("text.matches(pattern)").unwrap();
    move |text: &str| {
        let mut context = Context::default();
        context.add_variable_from_value("text", text);
        context.add_variable_from_value("pattern", pattern);
        program.execute(&context).unwrap() == Value::Bool(true)
    }
}

#[cfg(test)]
/// Tests: the CEL error of `result`, which must name `expected`.
pub(crate) fn assert_refused<E: std::fmt::Debug>(
    result: Result<(), E>,
    expected: &str,
    case: &str,
) {
    let Err(errors) = result else {
        panic!("{case} should be refused");
    };
    let errors = format!("{errors:?}");
    assert!(errors.contains(expected), "{case}: {errors}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn into_result_joins_every_problem() {
        assert_eq!(into_result(vec![]), Ok(()));
        assert_eq!(
            into_result(owned(&["a is wrong", "b is wrong"])),
            Err("a is wrong; b is wrong".to_string())
        );
    }

    #[test]
    fn one_of_wants_exactly_one() {
        assert_eq!(one_of(("a", true), ("b", false), "hint"), None);
        assert_eq!(one_of(("a", false), ("b", true), "hint"), None);
        assert_eq!(
            one_of(("a", true), ("b", true), "hint"),
            Some("a and b are both set: keep only one (hint)".to_string())
        );
        assert_eq!(
            one_of(("a", false), ("b", false), "hint"),
            Some("neither a nor b is set: set one (hint)".to_string())
        );
    }

    #[test]
    fn region_is_optional_and_lower_case() {
        assert_eq!(region_problem(None), None);
        assert_eq!(region_problem(Some("cn-hangzhou-1")), None);
        for bad in ["", "CN", "cn_hangzhou", "cn hangzhou"] {
            assert_eq!(
                region_problem(Some(bad)),
                Some(format!(
                    "spec.region is \"{bad}\": set a region id like cn-hangzhou (lower-case letters, digits and -)"
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_are_the_prefix_then_lower_case_letters_and_digits() {
        for good in ["vpc-1", "vpc-abc1"] {
            assert_eq!(id_problem("f", good, "vpc-"), None, "{good}");
        }
        for bad in ["vpc-", "vpc-A1", "vpc-a_1", "vsw-1", "vpc", ""] {
            assert_eq!(
                id_problem("f", bad, "vpc-"),
                Some(format!(
                    "f is \"{bad}\": set an id like vpc-abc123 (vpc- then lower-case letters and digits)"
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn object_names_are_dns_subdomains() {
        let longest = "a".repeat(253);
        for good in ["a", "gw", "gw-1.main", "0", longest.as_str()] {
            assert_eq!(object_name_problem("f", good), None, "{good}");
        }
        let too_long = "a".repeat(254);
        for bad in ["", "-gw", "gw-", ".gw", "Gw", "g_w", too_long.as_str()] {
            assert!(
                object_name_problem("f", bad).is_some_and(
                    |m| m.starts_with(&format!("f is \"{bad}\": set the name of an object"))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn region_pattern_and_check_agree() {
        let pattern = pattern_matcher(REGION_PATTERN);
        for good in ["cn-hangzhou", "us-east-1", "0"] {
            assert!(pattern(good), "{good}");
            assert_eq!(region_problem(Some(good)), None, "{good}");
        }
        for bad in ["", "CN", "cn_hangzhou", "cn hangzhou", "cn.hangzhou"] {
            assert!(!pattern(bad), "{bad}");
            assert!(region_problem(Some(bad)).is_some(), "{bad}");
        }
    }

    #[test]
    fn name_pattern_and_check_agree() {
        let pattern = pattern_matcher(NAME_PATTERN);
        for good in ["ab", "gw.main_1-a", "网关-1", "a网", "Z9"] {
            assert!(pattern(good), "{good}");
            assert_eq!(name_problem("f", good), None, "{good}");
        }
        for bad in ["1gw", "_gw", "-gw", "。gw", "gw one", "gw/1", "gw+"] {
            assert!(!pattern(bad), "{bad}");
            assert!(name_problem("f", bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn object_name_pattern_and_check_agree() {
        let pattern = pattern_matcher(OBJECT_NAME_PATTERN);
        for good in ["a", "gw", "gw-1.main", "0"] {
            assert!(pattern(good), "{good}");
            assert_eq!(object_name_problem("f", good), None, "{good}");
        }
        for bad in ["", "-gw", "gw-", ".gw", "Gw", "g_w"] {
            assert!(!pattern(bad), "{bad}");
            assert!(object_name_problem("f", bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn ipv4_pattern_and_check_agree() {
        let pattern = pattern_matcher(IPV4_PATTERN);
        for good in [
            "0.0.0.0",
            "10.0.0.1",
            "192.168.255.255",
            "255.255.255.255",
            "47.100.1.9",
        ] {
            assert!(pattern(good) && is_ipv4(good), "{good}");
        }
        for bad in [
            "256.0.0.1",
            "10.0.0",
            "10.0.0.1.2",
            "10.0.0.01",
            "a.b.c.d",
            "10.0.0.1/32",
            "",
            " 10.0.0.1",
            "::1",
        ] {
            assert!(!pattern(bad) && !is_ipv4(bad), "{bad}");
        }
        assert_eq!(
            ipv4_problem("f", "10.0.0"),
            Some("f is \"10.0.0\": set an IPv4 address like 192.168.0.10".to_string())
        );
    }

    #[test]
    fn cidr_pattern_and_check_agree() {
        let pattern = pattern_matcher(CIDR_PATTERN);
        for good in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "192.168.1.0/24",
            "192.168.1.7/32",
            "172.16.0.0/12",
        ] {
            assert!(pattern(good), "{good}");
            assert_eq!(cidr_problem("f", good), None, "{good}");
        }
        for bad in [
            "192.168.1.0",
            "192.168.1.0/33",
            "192.168.1.0/",
            "192.168.1.0/08",
            "192.168.1/24",
            "256.0.0.0/8",
            "10.0.0.0/8/8",
            "a/8",
        ] {
            assert!(!pattern(bad), "{bad}");
            assert!(cidr_problem("f", bad).is_some(), "{bad}");
        }
        // Well-formed, so the schema takes it, but the cloud refuses host bits.
        assert!(pattern("192.168.1.1/24"));
        assert_eq!(
            cidr_problem("f", "192.168.1.1/24"),
            Some("f is \"192.168.1.1/24\": its host bits are set; use 192.168.1.0/24".to_string())
        );
    }

    #[test]
    fn index_and_range_bounds_are_inclusive() {
        assert_eq!(index_problem("f", 0), None);
        assert_eq!(index_problem("f", 49), None);
        assert_eq!(
            index_problem("f", 50),
            Some(
                "f is 50: set 0 to 49 (a position in the package's status.publicIpAddresses)"
                    .to_string()
            )
        );
        assert_eq!(range_problem("f", 5, 5, 1000, "Mbps"), None);
        assert_eq!(range_problem("f", 1000, 5, 1000, "Mbps"), None);
        assert_eq!(
            range_problem("f", 4, 5, 1000, "Mbps"),
            Some("f is 4: set 5 to 1000 Mbps".to_string())
        );
        assert_eq!(
            range_problem("f", 1001, 5, 1000, "Mbps"),
            Some("f is 1001: set 5 to 1000 Mbps".to_string())
        );
    }

    #[test]
    fn distinct_lists_check_length_entries_and_duplicates() {
        let check = |list: &[&str]| {
            distinct_list_problems("spec.ips", &owned(list), 2, "IPs", "an entry", ipv4_problem)
        };
        assert!(check(&["10.0.0.1", "10.0.0.2"]).is_empty());
        assert_eq!(
            check(&["10.0.0.1", "x", "10.0.0.1"]),
            owned(&[
                "spec.ips lists 3 IPs: an entry takes at most 2",
                "an entry of spec.ips is \"x\": set an IPv4 address like 192.168.0.10",
                "spec.ips lists 10.0.0.1 more than once: remove the duplicate",
            ])
        );
    }

    #[test]
    fn names_start_with_a_letter_or_a_chinese_character() {
        for good in ["ab", "gw.main_1-a", "网关-1", "a网"] {
            assert!(starts_with_letter(good), "{good}");
            assert_eq!(name_problem("f", good), None, "{good}");
        }
        assert_eq!(name_problem("f", &format!("a{}", "b".repeat(127))), None);
        assert!(!starts_with_letter(""));
        assert_eq!(
            name_problem("f", "a"),
            Some("f has 1 characters: use 2 to 128".to_string())
        );
        assert_eq!(
            name_problem("f", &format!("a{}", "b".repeat(128))),
            Some("f has 129 characters: use 2 to 128".to_string())
        );
        for bad in ["1gw", "_gw", "-gw", "。gw"] {
            assert_eq!(
                name_problem("f", bad),
                Some(format!(
                    "f \"{bad}\" must start with a letter or a Chinese character"
                )),
                "{bad}"
            );
            assert_eq!(name_problem("f", bad), letter_start_problem("f", bad));
        }
        for bad in ["gw one", "gw/1", "gw+"] {
            assert_eq!(
                name_problem("f", bad),
                Some(format!(
                    "f \"{bad}\" may contain only letters, digits, Chinese characters, '.', '_' and '-'"
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn descriptions_are_2_to_256_characters_and_not_links() {
        for good in ["ab", "1st gateway", "主网关", "see http://x"] {
            assert_eq!(description_problem("f", good), None, "{good}");
        }
        assert_eq!(description_problem("f", &"d".repeat(256)), None);
        assert_eq!(
            description_problem("f", "d"),
            Some("f has 1 characters: use 2 to 256".to_string())
        );
        assert_eq!(
            description_problem("f", &"d".repeat(257)),
            Some("f has 257 characters: use 2 to 256".to_string())
        );
        for bad in ["http://example.com", "https://example.com"] {
            assert_eq!(
                description_problem("f", bad),
                Some("f must not start with http:// or https://".to_string()),
                "{bad}"
            );
        }
    }
}
