//! Dereference, the part every kind shares: the ProviderConfig an object
//! names resolved to a cloud client and the place it acts in, or the Stalled
//! verdict saying why it cannot be used.

use super::super::Context;
use super::super::providers::{CloudClient, Resolved};
use super::super::reconcile::ReconcileError;
use super::super::status::Verdict;
use crate::api::CloudLocation;
use crate::cloud::alibaba::AlibabaClient;

/// ProviderConfig `reference` in `region` (the ProviderConfig's own when
/// `None`), or the place `recorded` when the object recorded one: the clients,
/// or the verdict saying why there are none. A failure that may pass (the API
/// server, a ProviderConfig not checked yet) is an error to retry.
pub async fn provider(
    ctx: &Context,
    namespace: &str,
    recorded: Option<&CloudLocation>,
    reference: &str,
    region: Option<&str>,
) -> Result<Result<Resolved, Verdict>, ReconcileError> {
    match ctx
        .providers
        .resolve_at(recorded, reference, region, namespace)
        .await
    {
        Ok(resolved) => Ok(Ok(resolved)),
        Err(e) if !e.is_retryable() => Ok(Err(Verdict::stalled(
            e.reason(),
            format!("ProviderConfig {reference}: {e}"),
        ))),
        Err(e) => Err(e.into()),
    }
}

/// [`provider`] for a kind that only the Alibaba cloud serves: its client
/// and the place it acts in.
pub async fn alibaba(
    ctx: &Context,
    kind: &str,
    namespace: &str,
    recorded: Option<&CloudLocation>,
    reference: &str,
    region: Option<&str>,
) -> Result<Result<(AlibabaClient, CloudLocation), Verdict>, ReconcileError> {
    Ok(
        match provider(ctx, namespace, recorded, reference, region).await? {
            Ok(resolved) => alibaba_only(kind, resolved),
            Err(verdict) => Err(verdict),
        },
    )
}

/// The Alibaba client of `resolved`, or the verdict that `kind` needs one.
fn alibaba_only(kind: &str, resolved: Resolved) -> Result<(AlibabaClient, CloudLocation), Verdict> {
    let location = resolved.location();
    match resolved.cloud {
        CloudClient::Alibaba(client) => Ok((client, location)),
        CloudClient::UCloud(_) => Err(Verdict::stalled(
            "WrongProvider",
            format!(
                "ProviderConfig {} is not an Alibaba one; {} {kind} needs spec.provider Alibaba",
                resolved.name,
                article(kind)
            ),
        )),
    }
}

/// `a` or `an`, before `word`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_named_with_its_article() {
        for (kind, expected) in [
            ("NatGateway", "a"),
            ("ForwardEntry", "a"),
            ("SnatEntry", "a"),
            ("Ipv6InternetBandwidth", "an"),
        ] {
            assert_eq!(article(kind), expected, "{kind}");
        }
    }
}
