//! Changing the credentials of every thread of the process at once.
//!
//! On Linux a thread's uid, gid, groups and capabilities are its own: glibc's `setuid` reaches
//! every thread (it signals each one), but nothing does that for `capset` or the bounding set.
//! By the time fulcrum drops privileges its runtimes have started many threads (tokio workers,
//! the proxy's threads, the VRRP thread), so this does what glibc's setuid does: it signals
//! each thread (listed in /proc/self/task) with a real-time signal whose handler makes the raw system calls on that thread, and waits
//! for every thread to answer, then reads every thread's status file back: a thread still
//! running as another user is an error, never a silent partial drop. The calling thread goes
//! last (`this_thread`), after what still needs root (signals to threads running as root,
//! chroot).
//!
//! Each thread, in order: keep capabilities across the uid change (PR_SET_KEEPCAPS), drop every
//! capability but the kept ones from the bounding set (so no script it runs can regain them),
//! setgroups, setresgid, setresuid, then capset(permitted = effective = kept, inheritable = 0).
//! Only async-signal-safe raw system calls run in the handler.
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MAX_GROUPS: usize = 64;

static UID: AtomicU32 = AtomicU32::new(0);
static GID: AtomicU32 = AtomicU32::new(0);
static NGROUPS: AtomicUsize = AtomicUsize::new(0);
static GROUPS: [AtomicU32; MAX_GROUPS] = [const { AtomicU32::new(0) }; MAX_GROUPS];
static KEEP: AtomicU64 = AtomicU64::new(0);
static LAST_CAP: AtomicU32 = AtomicU32::new(40);
static DONE: AtomicUsize = AtomicUsize::new(0);
/// errno of the first failure in any thread (0: none).
static FAILED: AtomicI32 = AtomicI32::new(0);

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
}

/// The credential change of the calling thread; raw system calls only (signal-safe).
fn drop_this_thread() -> Result<(), i32> {
    let uid = UID.load(Ordering::SeqCst);
    let gid = GID.load(Ordering::SeqCst);
    let keep = KEEP.load(Ordering::SeqCst);
    // SAFETY: plain system calls with integer arguments or pointers to live stack values.
    unsafe {
        if libc::syscall(libc::SYS_getuid) as u32 == uid && uid != 0 {
            return Ok(()); // made after the drop by a thread that had dropped, or seen twice
        }
        if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 {
            return Err(errno());
        }
        for cap in 0..=LAST_CAP.load(Ordering::SeqCst) {
            if keep & (1u64 << cap) == 0
                && libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0
                && errno() != libc::EINVAL
            {
                return Err(errno());
            }
        }
        let n = NGROUPS.load(Ordering::SeqCst).min(MAX_GROUPS);
        let mut groups = [0u32; MAX_GROUPS];
        for (i, g) in groups.iter_mut().enumerate().take(n) {
            *g = GROUPS[i].load(Ordering::SeqCst);
        }
        if libc::syscall(libc::SYS_setgroups, n, groups.as_ptr()) != 0 {
            return Err(errno());
        }
        if libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0 {
            return Err(errno());
        }
        if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
            return Err(errno());
        }
        let header = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        let data = [
            CapData {
                effective: keep as u32,
                permitted: keep as u32,
                inheritable: 0,
            },
            CapData {
                effective: (keep >> 32) as u32,
                permitted: (keep >> 32) as u32,
                inheritable: 0,
            },
        ];
        if libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) != 0 {
            return Err(errno());
        }
        if libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0 {
            return Err(errno());
        }
    }
    Ok(())
}

extern "C" fn on_signal(_: libc::c_int) {
    // SAFETY: errno is thread-local; saved and restored around the handler.
    let saved = unsafe { *libc::__errno_location() };
    if let Err(e) = drop_this_thread() {
        let _ = FAILED.compare_exchange(0, e, Ordering::SeqCst, Ordering::SeqCst);
    }
    DONE.fetch_add(1, Ordering::SeqCst);
    unsafe { *libc::__errno_location() = saved };
}

/// What every thread becomes.
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Capability numbers kept (e.g. 10, 12, 13).
    pub keep: Vec<u32>,
}

fn list_tasks() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `Uid:` line of a thread's status file.
fn uid_line(tid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with("Uid:"))
        .map(str::to_string)
}

/// Gives every thread of the process but the calling one `creds` (see the module comment);
/// the caller then does what needs root (chroot) and calls `this_thread`.
pub fn others(creds: &Creds) -> Result<(), String> {
    if creds.groups.len() > MAX_GROUPS {
        return Err(format!("more than {MAX_GROUPS} supplementary groups"));
    }
    UID.store(creds.uid, Ordering::SeqCst);
    GID.store(creds.gid, Ordering::SeqCst);
    NGROUPS.store(creds.groups.len(), Ordering::SeqCst);
    for (i, g) in creds.groups.iter().enumerate() {
        GROUPS[i].store(*g, Ordering::SeqCst);
    }
    KEEP.store(
        creds.keep.iter().fold(0u64, |m, c| m | (1u64 << c)),
        Ordering::SeqCst,
    );
    if let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap") {
        if let Ok(n) = text.trim().parse() {
            LAST_CAP.store(n, Ordering::SeqCst);
        }
    }
    DONE.store(0, Ordering::SeqCst);
    FAILED.store(0, Ordering::SeqCst);
    let sig = libc::SIGRTMIN() + 7;
    // SAFETY: installs a handler that only makes raw system calls and touches atomics.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
            return Err(format!("sigaction: {}", std::io::Error::last_os_error()));
        }
    }
    let pid = std::process::id() as i32;
    // SAFETY: gettid has no arguments.
    let me = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let mut signalled: HashSet<i32> = HashSet::from([me]);
    let deadline = Instant::now() + Duration::from_secs(5);
    // Threads may be born while we go: list again until a round finds no new one.
    for _round in 0..20 {
        let fresh: Vec<i32> = list_tasks()
            .into_iter()
            .filter(|t| !signalled.contains(t))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for tid in fresh {
            // SAFETY: tgkill to a thread of our own process.
            let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
            if rc == 0 {
                signalled.insert(tid);
            } else if errno() != libc::ESRCH {
                return Err(format!(
                    "cannot signal thread {tid}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        while DONE.load(Ordering::SeqCst) < signalled.len() - 1 {
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {} threads changed their credentials in time",
                    DONE.load(Ordering::SeqCst),
                    signalled.len() - 1
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Read back every thread's uid: nothing may have been left behind.
    let want = format!("{0}\t{0}\t{0}\t{0}", creds.uid);
    for tid in list_tasks().into_iter().filter(|t| *t != me) {
        if let Some(line) = uid_line(tid) {
            if !line.ends_with(&want) {
                return Err(format!("thread {tid} still has {line}"));
            }
        }
    }
    Ok(())
}

/// The calling thread's part, last.
pub fn this_thread() -> Result<(), String> {
    drop_this_thread().map_err(|e| std::io::Error::from_raw_os_error(e).to_string())
}
