//! Placeholder: handlers are being written.

use serde_json::Value;

use super::Ctx;
use crate::cloud::wire::Params;
use crate::emulator::ApiError;

/// The handler of `action`, if this module serves it.
pub fn dispatch(_ctx: &mut Ctx<'_>, _action: &str, _params: &Params) -> Option<Result<Value, ApiError>> {
    None
}
