//! haproxy.cfg parser (placeholder API; being written).
use crate::diagnostics::Diagnostics;
use crate::model::{Global, Proxy};

#[derive(Default)]
pub struct Parser {
    global: Global,
    proxies: Vec<Proxy>,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn parse_file(&mut self, _path: &str, _text: &str, _diags: &mut Diagnostics) {}
    pub fn finish(self, _diags: &mut Diagnostics) -> (Global, Vec<Proxy>) {
        (self.global, self.proxies)
    }
}
