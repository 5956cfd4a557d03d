//! One module per subcommand.
pub mod check;
pub mod compat;
pub mod lbaas;
pub mod reload;
pub mod run;
pub mod status;
