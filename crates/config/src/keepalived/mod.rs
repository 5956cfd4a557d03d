//! keepalived.conf parser (placeholder API; being written).
use crate::diagnostics::Diagnostics;
use crate::model::Keepalived;

#[derive(Default)]
pub struct Parser {
    out: Keepalived,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn parse_file(&mut self, _path: &str, _text: &str, _diags: &mut Diagnostics) {}
    pub fn finish(self, _diags: &mut Diagnostics) -> Keepalived {
        self.out
    }
}
