//! One module per subcommand.
pub mod check;
pub mod cluster;
pub mod compat;
pub mod lbaas;
pub mod reload;
pub mod run;
pub mod status;
pub mod udp_check;
