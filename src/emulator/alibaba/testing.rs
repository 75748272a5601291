//! A handler test bench: one account's resources in one region of the default
//! fixture, called without HTTP or signatures.

use serde_json::Value;

use super::{Ctx, route};
use crate::cloud::wire::Params;
use crate::emulator::fixture::Fixture;
use crate::emulator::state::{AlibabaRegionState, World};
use crate::emulator::{ApiError, Durations};

/// The bench.
pub struct Bench {
    /// The default fixture.
    pub fixture: Fixture,
    /// Resources of the first (legacy) account in `cn-hangzhou`.
    pub state: AlibabaRegionState,
    /// Id generator.
    pub rng: fastrand::Rng,
    /// Virtual now.
    pub now_ms: i64,
    /// Durations (the defaults).
    pub durations: Durations,
    /// Which fixture account calls (0: legacy bandwidth packages allowed).
    pub account: usize,
    /// Time passes before every page after the first (`pageShift` 1).
    pub page_shift: bool,
    /// The `listLagMs` fault.
    pub list_lag_ms: i64,
}

impl Bench {
    /// A fresh bench at virtual time 1 000 000 000 000 ms.
    pub fn new() -> Bench {
        let fixture = Fixture::default_fixture();
        let now_ms = 1_000_000_000_000;
        let mut world = World::from_fixture(&fixture, now_ms);
        let key = fixture.alibaba.accounts[0].account_id.clone();
        let state = world
            .alibaba
            .remove(&key)
            .and_then(|mut a| a.regions.remove("cn-hangzhou"))
            .unwrap_or_default();
        Bench {
            fixture,
            state,
            rng: fastrand::Rng::with_seed(1),
            now_ms,
            durations: Durations::default(),
            account: 0,
            page_shift: false,
            list_lag_ms: 0,
        }
    }

    /// Call `action` with `params` (RegionId defaults to `cn-hangzhou`).
    pub fn call(&mut self, action: &str, params: &[(&str, &str)]) -> Result<Value, ApiError> {
        let mut p: Params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.entry("RegionId".into())
            .or_insert_with(|| "cn-hangzhou".into());
        p.insert("Action".into(), action.into());
        let region = self
            .fixture
            .alibaba
            .regions
            .iter()
            .find(|r| r.region_id == "cn-hangzhou")
            .cloned()
            .unwrap_or_default();
        let account = self.fixture.alibaba.accounts[self.account].clone();
        let mut ctx = Ctx {
            now_ms: self.now_ms,
            account: &account,
            region: &region,
            state: &mut self.state,
            durations: self.durations,
            rng: &mut self.rng,
            client_token: p.get("ClientToken").cloned(),
            page_shift: self.page_shift,
            list_lag_ms: self.list_lag_ms,
        };
        route(&mut ctx, action, &p)
    }

    /// Move virtual time forward and complete what fell due.
    pub fn advance(&mut self, seconds: u64) {
        self.now_ms += i64::try_from(seconds).unwrap_or(0) * 1000;
        self.state.settle(self.now_ms);
    }
}
