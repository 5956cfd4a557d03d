//! The `fulcrum` binary: command line, and dispatch to the commands.
//!
//! `fulcrum run|check -f FILE...` is fulcrum's own interface. The binary also answers to its
//! daemon names (`haproxy`, `keepalived`) so operators can swap it into existing unit files;
//! that dispatch lives in `cmd/compat.rs`.

mod alloc_cache;
mod api_bridge;
mod cluster_bridge;
mod cmd;
mod control;
mod fd_limit;
mod health_bridge;
mod health_track;
mod lvs_bridge;
mod lvs_metrics;
mod metrics;
mod peers_bridge;
mod privileges;
mod runtime_api;
mod sd_notify;
mod socket_file;
mod status_report;
mod supervisor;

/// glibc's malloc, with the blocks each new connection takes and frees kept for the next
/// (`alloc_cache`).
#[global_allocator]
static ALLOC: alloc_cache::Cached = alloc_cache::Cached;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "fulcrum",
    version,
    about = "High-availability load balancer: HAProxy and keepalived configs in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run in the foreground with the given haproxy.cfg / keepalived.conf files.
    Run {
        /// A config file, HAProxy or keepalived syntax (told apart by content). Repeatable.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// Control socket for `fulcrum reload` [default: $FULCRUM_CONTROL, /run/fulcrum.sock as root]
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Ask the running fulcrum to re-read its files; exit 1 with every reason if refused.
    Reload {
        /// The control socket of the running fulcrum (as given to `fulcrum run --control`).
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Show the running fulcrum at a glance: VRRP instances, frontends, servers, last changes.
    Status {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The control socket of the running fulcrum (as given to `fulcrum run --control`).
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Cluster mode at run time: `standby NODE`, `unstandby NODE`, `move VIP NODE [LIFETIME]`
    /// (a preference for LIFETIME, as `pcs resource move --lifetime`), `clear VIP`.
    Cluster {
        /// The control socket of the running fulcrum (as given to `fulcrum run --control`).
        #[arg(long)]
        control: Option<PathBuf>,
        /// The command and its arguments.
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
    },
    /// Print the haproxy.cfg (or keepalived text) the LBaaS API renders for a load balancer
    /// (all without an id).
    LbaasConfig {
        /// A running fulcrum's API, e.g. http://127.0.0.1:9876 (needs the id).
        #[arg(long)]
        url: Option<String>,
        /// The admin token, for `auth token` or `auth keystone`.
        #[arg(long)]
        token: Option<String>,
        /// The API's store, read directly while fulcrum is stopped.
        #[arg(long)]
        store: Option<PathBuf>,
        /// The load balancer's id.
        id: Option<String>,
        /// Print the keepalived `virtual_server` blocks of its UDP/SCTP listeners instead.
        #[arg(long)]
        keepalived: bool,
    },
    /// The LBaaS UDP-CONNECT health check (Octavia's udp_check.sh): exit 0 unless ADDRESS:PORT
    /// answers a datagram with ICMP port unreachable within a second (exit 1).
    UdpCheck { address: String, port: u16 },
    /// Check config files: every problem as FILE:LINE: message; exit 1 on any error.
    Check {
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// Print the resolved model (defaults applied) as JSON on stdout.
        #[arg(long)]
        dump: bool,
    },
}

fn main() -> ExitCode {
    // The reader a chrooted fulcrum keeps outside for reloads (privileges/reader.rs).
    if privileges::reader_main() {
        return ExitCode::SUCCESS;
    }
    fulcrum_proxy::trim::before_trim(alloc_cache::give_back);
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match cmd::compat::personality(&args) {
        cmd::compat::Personality::Haproxy(rest) => return cmd::compat::haproxy::main(&rest),
        cmd::compat::Personality::Keepalived(rest) => return cmd::compat::keepalived::main(&rest),
        cmd::compat::Personality::Fulcrum => {}
    }
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Check { files, dump } => cmd::check::run(&files, dump),
        Command::Run { files, control } => {
            let mut opts = cmd::run::RunOptions {
                files,
                ..Default::default()
            };
            if let Some(c) = control {
                opts.control = c;
            }
            cmd::run::run(opts)
        }
        Command::LbaasConfig {
            url,
            token,
            store,
            id,
            keepalived,
        } => cmd::lbaas::run(
            url.as_deref(),
            token.as_deref(),
            store.as_deref(),
            id.as_deref(),
            keepalived,
        ),
        Command::UdpCheck { address, port } => cmd::udp_check::run(&address, port),
        Command::Reload { control } => {
            cmd::reload::run(&control.unwrap_or_else(control::default_path))
        }
        Command::Cluster { control, words } => {
            cmd::cluster::run(&control.unwrap_or_else(control::default_path), &words)
        }
        Command::Status { json, control } => {
            cmd::status::run(&control.unwrap_or_else(control::default_path), json)
        }
    }
}
