//! Location is part of a cloud resource's identity: the ProviderConfig, region
//! and account it was made (or adopted) in are recorded in the object's status
//! before natop creates anything, and natop never acts anywhere else for that
//! object. A changed spec or ProviderConfig would otherwise make natop look
//! elsewhere, "re-create" the resource there and leave the original running.

use crate::api::CloudLocation;

/// Condition reason when the object now resolves to another place.
pub const LOCATION_CHANGED: &str = "LocationChanged";

/// Whether natop may act at `effective` for an object whose resource was
/// recorded at `recorded` (`None`: nothing recorded yet, anywhere is fine).
/// `Err` says what moved and what to do, for a Stalled condition.
pub fn check(
    recorded: Option<&CloudLocation>,
    effective: &CloudLocation,
    what: &str,
) -> Result<(), String> {
    let Some(recorded) = recorded else {
        return Ok(());
    };
    let mut moved = Vec::new();
    if recorded.provider_config != effective.provider_config {
        moved.push(format!(
            "the ProviderConfig is now {} (was {})",
            effective.provider_config, recorded.provider_config
        ));
    }
    if recorded.region != effective.region {
        moved.push(format!(
            "the region is now {} (was {})",
            effective.region, recorded.region
        ));
    }
    if recorded.account_id != effective.account_id {
        moved.push(format!(
            "the credentials now belong to account {} (was {})",
            effective.account_id, recorded.account_id
        ));
    }
    if moved.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{what} lives in {recorded}, but {}: natop never looks for it, re-creates it or \
         deletes it anywhere else. Restore the ProviderConfig, its credentials or spec.region; \
         to move the resource, create a new object (and delete this one once its location is \
         restored, or set spec.deletionPolicy Orphan to release it)",
        moved.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pc: &str, region: &str, account: &str) -> CloudLocation {
        CloudLocation {
            provider_config: pc.into(),
            region: region.into(),
            account_id: account.into(),
        }
    }

    #[test]
    fn nothing_recorded_or_the_same_place_is_fine() {
        let here = at("default", "cn-hangzhou", "1001");
        assert_eq!(check(None, &here, "gateway ngw-1"), Ok(()));
        assert_eq!(check(Some(&here.clone()), &here, "gateway ngw-1"), Ok(()));
    }

    #[test]
    fn every_move_is_refused_and_named() {
        let recorded = at("default", "cn-hangzhou", "1001");
        let table = [
            (
                at("other", "cn-hangzhou", "1001"),
                vec!["ProviderConfig is now other"],
            ),
            (
                at("default", "cn-beijing", "1001"),
                vec!["region is now cn-beijing"],
            ),
            (
                at("default", "cn-hangzhou", "2002"),
                vec!["account 2002 (was 1001)"],
            ),
            (
                at("other", "cn-beijing", "2002"),
                vec![
                    "ProviderConfig is now other",
                    "region is now cn-beijing",
                    "account 2002",
                ],
            ),
        ];
        for (effective, phrases) in table {
            let message = check(Some(&recorded), &effective, "gateway ngw-1").unwrap_err();
            assert!(
                message.starts_with("gateway ngw-1 lives in account 1001 in region cn-hangzhou"),
                "{message}"
            );
            for phrase in phrases {
                assert!(message.contains(phrase), "{phrase:?} in {message}");
            }
        }
    }
}
