//! The schema patterns the kinds share. The CRDs' schemas and CEL rules are
//! the one statement of what a valid spec is, and the API server enforces
//! them (every rule is tested there, `tests/cel_rules.rs`); natop itself
//! checks only what they cannot say.

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

    fn pattern_sorts(pattern: &'static str, good: &[&str], bad: &[&str]) {
        let matches = pattern_matcher(pattern);
        for text in good {
            assert!(matches(text), "{pattern} accepts {text:?}");
        }
        for text in bad {
            assert!(!matches(text), "{pattern} refuses {text:?}");
        }
    }

    #[test]
    fn region_pattern() {
        pattern_sorts(
            REGION_PATTERN,
            &["cn-hangzhou", "us-east-1", "0"],
            &["", "CN", "cn_hangzhou", "cn hangzhou", "cn.hangzhou"],
        );
    }

    #[test]
    fn name_pattern() {
        pattern_sorts(
            NAME_PATTERN,
            &["ab", "gw.main_1-a", "网关-1", "a网", "Z9"],
            &["1gw", "_gw", "-gw", "。gw", "gw one", "gw/1", "gw+"],
        );
    }

    #[test]
    fn object_name_pattern() {
        pattern_sorts(
            OBJECT_NAME_PATTERN,
            &["a", "gw", "gw-1.main", "0"],
            &["", "-gw", "gw-", ".gw", "Gw", "g_w"],
        );
    }

    #[test]
    fn ipv4_pattern() {
        pattern_sorts(
            IPV4_PATTERN,
            &[
                "0.0.0.0",
                "10.0.0.1",
                "192.168.255.255",
                "255.255.255.255",
                "47.100.1.9",
            ],
            &[
                "256.0.0.1",
                "10.0.0",
                "10.0.0.1.2",
                "10.0.0.01",
                "a.b.c.d",
                "10.0.0.1/32",
                "",
                " 10.0.0.1",
                "::1",
            ],
        );
    }

    #[test]
    fn cidr_pattern() {
        pattern_sorts(
            CIDR_PATTERN,
            &["0.0.0.0/0", "192.168.1.0/24", "10.0.0.0/8", "10.1.2.3/32"],
            &[
                "192.168.1.0",
                "192.168.1.0/33",
                "192.168.1.0/024",
                "192.168.1.0/",
                "256.1.1.0/24",
                "10.0.0.0/8 ",
            ],
        );
    }

    #[test]
    fn names_start_with_a_letter_or_a_chinese_character() {
        for good in ["ab", "gw.main_1-a", "网关-1", "a网", "Z"] {
            assert!(starts_with_letter(good), "{good}");
        }
        for bad in ["", "1gw", "_gw", "-gw", "。gw", " a"] {
            assert!(!starts_with_letter(bad), "{bad}");
        }
    }
}
