//! Semantic checks on the whole model (placeholder; being written).
use crate::diagnostics::Diagnostics;
use crate::model::Config;

pub fn validate(_config: &Config, _diags: &mut Diagnostics) {}
