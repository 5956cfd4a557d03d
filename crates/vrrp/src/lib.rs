//! fulcrum's VRRP: floating virtual IPs from keepalived.conf.
//!
//! Entry points used by the binary's supervisor: `start` runs every `vrrp_instance`; the handle
//! stops them gracefully (a MASTER sends a priority-0 advert and removes its addresses).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod machine;
pub mod packet;

use fulcrum_config::model::Keepalived;

#[derive(Debug, thiserror::Error)]
pub enum VrrpError {
    #[error("{0}")]
    Setup(String),
}

pub struct VrrpHandle {}

/// Starts one task per `vrrp_instance`.
pub async fn start(_keepalived: &Keepalived) -> Result<VrrpHandle, VrrpError> {
    Ok(VrrpHandle {})
}

impl VrrpHandle {
    /// Applies a new, already validated keepalived model (instances added/removed/changed).
    pub async fn reload(&self, _keepalived: &Keepalived) -> Result<(), VrrpError> {
        Ok(())
    }
    /// Leaves MASTER (priority-0 advert, addresses removed) and stops every instance.
    pub async fn shutdown(self) {}
}
