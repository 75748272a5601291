//! Which actions the emulator serves and how a call reaches its handler: each
//! resource family's table of `(NAME, handler)` pairs, built by `serve!` from
//! the wire types so that an action is named only once, on its wire type.
//! [`route`] dispatches on the tables and [`ACTIONS`] lists their names.

use serde_json::Value;

use super::{Ctx, bandwidth_package, eip, entries, ipv6, nat_gateway, unknown_action};
use crate::cloud::alibaba::actions::sts::{AssumeRole, AssumeRoleWithOidc, GetCallerIdentity};
use crate::cloud::alibaba::{Action, Service};
use crate::cloud::wire::Params;
use crate::emulator::ApiError;

/// `(NAME, handler)` for wire type `A` and its typed handler (a [`Served`]):
/// the name is `A`'s [`Action::NAME`], so an action is named only on its wire
/// type. `guard: check` runs `check` first; it may refuse the call before its
/// parameters are read.
macro_rules! serve {
    ($wire:ty, $handler:expr) => {
        (
            <$wire as $crate::cloud::alibaba::Action>::NAME,
            |ctx: &mut $crate::emulator::alibaba::Ctx<'_>, params: &$crate::cloud::wire::Params| {
                $crate::emulator::alibaba::run::<$wire>(ctx, params, $handler)
            },
        )
    };
    ($wire:ty, $handler:expr, guard: $guard:expr) => {
        (
            <$wire as $crate::cloud::alibaba::Action>::NAME,
            |ctx: &mut $crate::emulator::alibaba::Ctx<'_>, params: &$crate::cloud::wire::Params| {
                $guard(ctx)?;
                $crate::emulator::alibaba::run::<$wire>(ctx, params, $handler)
            },
        )
    };
}

/// A handler as [`route`] calls it: the call's parameters in, the encoded
/// answer out (a [`Handler`](super::Handler) wrapped by [`run`](super::run)).
pub type Raw = fn(&mut Ctx<'_>, &Params) -> Result<Value, ApiError>;

/// One action the emulator serves: its wire type's [`Action::NAME`] and its
/// handler. Built by `serve!`.
pub type Served = (&'static str, Raw);

/// Run the handler of `action`.
pub fn route(ctx: &mut Ctx<'_>, action: &str, params: &Params) -> Result<Value, ApiError> {
    match VPC_SERVED
        .iter()
        .flat_map(|served| served.iter())
        .find(|(name, _)| *name == action)
    {
        Some((_, handler)) => handler(ctx, params),
        None => Err(unknown_action(action)),
    }
}

/// The actions the emulator serves for `service`.
pub fn actions_of(service: Service) -> &'static [&'static str] {
    match service {
        Service::Vpc => ACTIONS,
        Service::Sts => STS_ACTIONS,
    }
}

/// The STS actions the emulator serves (Version 2015-04-01), answered by
/// [`Sts::answer`](super::sts::Sts::answer).
pub const STS_ACTIONS: &[&str] = &[
    <GetCallerIdentity as Action>::NAME,
    <AssumeRole as Action>::NAME,
    <AssumeRoleWithOidc as Action>::NAME,
];

/// The VPC actions the emulator serves (Version 2016-04-28), by resource
/// family: what [`route`] dispatches on, and what [`ACTIONS`] lists.
const VPC_SERVED: &[&[Served]] = &[
    nat_gateway::SERVED,
    entries::SERVED,
    bandwidth_package::SERVED,
    ipv6::SERVED,
    eip::SERVED,
];

/// How many VPC actions [`VPC_SERVED`] holds.
const VPC_COUNT: usize = {
    let mut count = 0;
    let mut family = 0;
    while family < VPC_SERVED.len() {
        count += VPC_SERVED[family].len();
        family += 1;
    }
    count
};

/// The names of [`VPC_SERVED`], in its order.
const VPC_NAMES: [&str; VPC_COUNT] = {
    let mut names = [""; VPC_COUNT];
    let (mut next, mut family) = (0, 0);
    while family < VPC_SERVED.len() {
        let mut action = 0;
        while action < VPC_SERVED[family].len() {
            names[next] = VPC_SERVED[family][action].0;
            next += 1;
            action += 1;
        }
        family += 1;
    }
    names
};

/// Every VPC action the emulator serves (Version 2016-04-28).
pub const ACTIONS: &[&str] = &VPC_NAMES;

#[cfg(test)]
mod tests;
