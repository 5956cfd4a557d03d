//! The process's allocator: the system's (glibc malloc), with the blocks it is slowest to hand
//! out kept for reuse once freed. Every new connection allocates a few of those and frees
//! them when it closes: its task's cell and its sockets' registrations (tokio aligns them to
//! 128 bytes: `posix_memalign`, which splits a larger chunk each time) and the boxes of its
//! session's phases (above 1 KB: past glibc's per-thread cache, each such `malloc` sorts the
//! heap's bins first). Kept here, the next connection takes them back for a few instructions
//! instead of ~600-1000 each (`bench/proxy/newconn_instructions.sh`).
//!
//! Those blocks (alignment above 16 bytes, or 1 KB to 8 KB) are kept by their size rounded up
//! to 64 bytes and their alignment, at most `PER_CLASS` of each class in each of `SHARDS`
//! shards, and `BUDGET` bytes per shard (the five classes a connection uses: ~7 KB; 4 MB at
//! most in all), whatever the load.
//!
//! Small blocks (under 1 KB, alignment up to 16) are kept too, by size in 16-byte steps, up to
//! `SMALL_PER_BIN` of each and `SMALL_BUDGET` bytes per shard: glibc's per-thread cache keeps
//! only 7 of a size, so a burst that holds more at once (an HTTP/2 connection's 100 streams
//! each allocate their headers' maps and frames) sends the rest through `_int_malloc` and
//! `_int_free` (~300 instructions a pair instead of ~40; h2 over TLS: ~1,300 instructions per
//! request, `bench/h2/instructions.sh`). They are given back before each heap trim
//! (`give_back`, `trim::before_trim`): kept across a burst that went idle, they would hold
//! their pages resident.
//!
//! Everything else goes straight to the system allocator, and so does a block whose shard is
//! busy (another thread holds it: `try_lock`, never waited for) or whose class is full. A
//! thread uses its own shard (given out in turn), so workers seldom meet on one; a block freed
//! by one thread may serve another.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const SHARDS: usize = 8;
/// Places for size-and-alignment classes per shard (a connection uses about five).
const CLASSES: usize = 16;
/// Freed blocks kept per class per shard. (With clients overlapping, more would be taken back
/// from here: with 32 at once, 8 serve ~55% of a TCP connection's blocks, 32 ~90%; but an
/// HTTP keep-alive client left idle then holds ~60-100 bytes more, `bench/proxy/ab.sh IDLE`:
/// blocks of a burst kept here that the heap would have reused for other sizes.)
const PER_CLASS: u32 = 8;
/// Sizes are rounded up to this (a class serves every size its rounding gives).
const GRAIN: usize = 64;
/// Blocks from 1 KB (glibc serves smaller ones from its per-thread cache) to this are kept.
const LARGEST: usize = 8192;
/// Bytes kept per shard at most, whatever the classes.
const BUDGET: usize = 512 * 1024;
/// Small blocks' sizes are rounded up to this (glibc's own step on 64-bit).
const SMALL_STEP: usize = 16;
/// One bin per small size: 16, 32, ... 1024 bytes (sizes from 1 KB are classes).
const SMALL_BINS: usize = 1024 / SMALL_STEP;
/// Freed small blocks kept per bin per shard: more than the streams an HTTP/2 connection runs
/// at once by default (100) hold of one size.
const SMALL_PER_BIN: u32 = 128;
/// Bytes of small blocks kept per shard at most.
const SMALL_BUDGET: usize = 128 * 1024;

/// The allocator `main` installs.
pub struct Cached;

/// One class's freed blocks: a list linked through their first word.
#[derive(Clone, Copy)]
struct Class {
    size: usize,
    align: usize,
    head: *mut u8,
    count: u32,
}

const EMPTY: Class = Class {
    size: 0,
    align: 0,
    head: std::ptr::null_mut(),
    count: 0,
};

/// One small size's freed blocks: a list linked through their first word.
#[derive(Clone, Copy)]
struct Bin {
    head: *mut u8,
    count: u32,
}

const EMPTY_BIN: Bin = Bin {
    head: std::ptr::null_mut(),
    count: 0,
};

struct Shard {
    classes: [Class; CLASSES],
    /// The kept blocks' bytes.
    bytes: usize,
    small: [Bin; SMALL_BINS],
    /// The kept small blocks' bytes.
    small_bytes: usize,
}

// SAFETY: the blocks a shard lists are owned by the shard alone (freed by their last user,
// not handed out until popped under the shard's lock); any thread may take them.
unsafe impl Send for Shard {}

static SHARD_LOCKS: [Mutex<Shard>; SHARDS] = [const {
    Mutex::new(Shard {
        classes: [EMPTY; CLASSES],
        bytes: 0,
        small: [EMPTY_BIN; SMALL_BINS],
        small_bytes: 0,
    })
}; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard (`usize::MAX`: not given yet). No destructor: usable while the
    /// thread ends, and allocating nothing.
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// How a block of some layout is kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kept {
    /// Not at all: the system's.
    Not,
    /// A small block, in this bin.
    Small(usize),
    /// In this class.
    Class(Layout),
}

#[inline]
fn kept(layout: Layout) -> Kept {
    let size = layout.size();
    if layout.align() <= SMALL_STEP && size < 1024 {
        // Sizes 1-16 in bin 0, 17-32 in bin 1... (a zero size never reaches an allocator).
        return Kept::Small(size.saturating_sub(1) / SMALL_STEP);
    }
    match class_of(layout) {
        Some(c) => Kept::Class(c),
        None => Kept::Not,
    }
}

/// The layout a small bin's blocks are allocated with: its size, at glibc's alignment (so
/// `System` allocates them with `malloc`).
#[inline]
fn small_layout(bin: usize) -> Layout {
    // SAFETY: (bin + 1) * 16 is a non-zero multiple of 16 up to 1 KB, 16 a power of two.
    unsafe { Layout::from_size_align_unchecked((bin + 1) * SMALL_STEP, SMALL_STEP) }
}

/// The layout a kept block has when `layout` is one this cache keeps.
#[inline]
fn class_of(layout: Layout) -> Option<Layout> {
    let size = layout.size();
    let align = layout.align();
    let kept = (align > 16 || size >= 1024) && (1..=LARGEST).contains(&size) && align <= 4096;
    if !kept {
        return None;
    }
    let rounded = size.checked_add(GRAIN - 1)? & !(GRAIN - 1);
    Layout::from_size_align(rounded, align).ok()
}

fn shard() -> &'static Mutex<Shard> {
    let i = MINE
        .try_with(|m| {
            let mut i = m.get();
            if i == usize::MAX {
                i = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
                m.set(i);
            }
            i
        })
        .unwrap_or(0);
    &SHARD_LOCKS[i % SHARDS]
}

/// A class's first place in a shard: its size and alignment mixed. A class is kept there or
/// in the next place (two ways: the classes a connection uses may meet on one place as their
/// sizes move with the code, measured: a setup box of a new size took the place of tokio's
/// 128-byte-aligned registrations, two `posix_memalign` per connection, +1,500 instructions);
/// one that finds both taken by other classes is not kept.
fn place(l: Layout) -> usize {
    (l.size() / GRAIN + l.align().trailing_zeros() as usize * 7) % CLASSES
}

impl Class {
    fn holds(&self, l: Layout) -> bool {
        self.count > 0 && self.size == l.size() && self.align == l.align()
    }
}

impl Shard {
    fn give_back_small(&mut self) {
        for bin in 0..SMALL_BINS {
            while let Some(b) = self.pop_small(bin) {
                // SAFETY: a kept small block was allocated with `small_layout(bin)`.
                unsafe { System.dealloc(b, small_layout(bin)) };
            }
        }
    }

    fn pop_small(&mut self, bin: usize) -> Option<*mut u8> {
        let b = self.small.get_mut(bin)?;
        if b.count == 0 {
            return None;
        }
        let block = b.head;
        // SAFETY: `block` is a kept block of this bin (at least 16 bytes, aligned to 16): its
        // first word holds the next one's address, written by `push_small`.
        b.head = unsafe { block.cast::<*mut u8>().read() };
        b.count -= 1;
        self.small_bytes -= (bin + 1) * SMALL_STEP;
        Some(block)
    }

    /// Keeps a freed small block; false when its bin or the shard's small budget is full.
    fn push_small(&mut self, block: *mut u8, bin: usize) -> bool {
        let size = (bin + 1) * SMALL_STEP;
        if self.small_bytes + size > SMALL_BUDGET {
            return false;
        }
        let Some(b) = self.small.get_mut(bin) else {
            return false;
        };
        if b.count >= SMALL_PER_BIN {
            return false;
        }
        // SAFETY: `block` was allocated with `small_layout(bin)` (at least 16 bytes, aligned to
        // 16) and its user freed it: its first word is ours to write.
        unsafe { block.cast::<*mut u8>().write(b.head) };
        b.head = block;
        b.count += 1;
        self.small_bytes += size;
        true
    }

    fn pop(&mut self, l: Layout) -> Option<*mut u8> {
        let first = place(l);
        let at = if self.classes[first].holds(l) {
            first
        } else {
            (first + 1) % CLASSES
        };
        let c = &mut self.classes[at];
        if !c.holds(l) {
            return None;
        }
        let block = c.head;
        // SAFETY: `block` is a kept block of this class (at least GRAIN bytes, aligned to at
        // least 8): its first word holds the next one's address, written by `push`.
        c.head = unsafe { block.cast::<*mut u8>().read() };
        c.count -= 1;
        self.bytes -= l.size();
        Some(block)
    }

    /// Keeps `block`; false when its class or the shard is full, or its place holds another
    /// class.
    fn push(&mut self, block: *mut u8, l: Layout) -> bool {
        if self.bytes + l.size() > BUDGET {
            return false;
        }
        // Its first place unless another class holds it and the next one is free or its own.
        let first = place(l);
        let next = (first + 1) % CLASSES;
        let taken = |c: &Class| c.count > 0 && (c.size != l.size() || c.align != l.align());
        let at = if taken(&self.classes[first]) && !taken(&self.classes[next]) {
            next
        } else {
            first
        };
        let c = &mut self.classes[at];
        if c.count == 0 {
            c.size = l.size();
            c.align = l.align();
        } else if c.count >= PER_CLASS || c.size != l.size() || c.align != l.align() {
            return false;
        }
        // SAFETY: `block` was allocated with layout `l` (at least GRAIN bytes, aligned to at
        // least 8) and its user freed it: its first word is ours to write.
        unsafe { block.cast::<*mut u8>().write(c.head) };
        c.head = block;
        c.count += 1;
        self.bytes += l.size();
        true
    }
}

/// Gives every kept small block back to the system (before a heap trim: `trim::before_trim`;
/// a kept block would keep its page resident). A shard another thread holds is passed over.
pub fn give_back() {
    for lock in &SHARD_LOCKS {
        if let Ok(mut s) = lock.try_lock() {
            s.give_back_small();
        }
    }
}

/// A small block: a kept one, else the system's.
#[inline(never)]
fn alloc_small(bin: usize) -> *mut u8 {
    if let Ok(mut s) = shard().try_lock() {
        if let Some(b) = s.pop_small(bin) {
            return b;
        }
    }
    // SAFETY: `small_layout` has a non-zero size.
    unsafe { System.alloc(small_layout(bin)) }
}

/// Keeps a freed small block, or gives it back to the system.
///
/// # Safety
/// `ptr` was allocated by [`alloc_small`] with `bin`.
#[inline(never)]
unsafe fn dealloc_small(ptr: *mut u8, bin: usize) {
    if let Ok(mut s) = shard().try_lock() {
        if s.push_small(ptr, bin) {
            return;
        }
    }
    unsafe { System.dealloc(ptr, small_layout(bin)) }
}

/// A block of a kept class: a kept one, else the system's (out of line: the common small
/// blocks go straight to the system from the inlined `alloc`).
///
/// # Safety
/// `class` is a layout `class_of` gave.
#[inline(never)]
unsafe fn alloc_kept(class: Layout) -> *mut u8 {
    if let Ok(mut s) = shard().try_lock() {
        if let Some(b) = s.pop(class) {
            return b;
        }
    }
    unsafe { System.alloc(class) }
}

/// Keeps a freed block of a kept class, or gives it back to the system.
///
/// # Safety
/// `ptr` was allocated by [`alloc_kept`] with `class`.
#[inline(never)]
unsafe fn dealloc_kept(ptr: *mut u8, class: Layout) {
    if let Ok(mut s) = shard().try_lock() {
        if s.push(ptr, class) {
            return;
        }
    }
    unsafe { System.dealloc(ptr, class) }
}

// SAFETY: every block handed out was allocated by `System` with the class or bin layout of
// the layout asked for (an alignment at least as large, a size at least as large), and goes
// back to `System` with that same layout, or is kept and handed out again only for a layout of
// the same class or bin. Blocks outside them are passed to `System` unchanged.
unsafe impl GlobalAlloc for Cached {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match kept(layout) {
            Kept::Small(bin) => alloc_small(bin),
            Kept::Class(class) => unsafe { alloc_kept(class) },
            Kept::Not => unsafe { System.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match kept(layout) {
            Kept::Small(bin) => unsafe { dealloc_small(ptr, bin) },
            Kept::Class(class) => unsafe { dealloc_kept(ptr, class) },
            Kept::Not => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if kept(layout) == Kept::Not {
            return unsafe { System.alloc_zeroed(layout) };
        }
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            unsafe { p.write_bytes(0, layout.size()) };
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        match (kept(layout), kept(new)) {
            (Kept::Not, Kept::Not) => unsafe { System.realloc(ptr, layout, new_size) },
            // Still the same block's class or bin: nothing to move.
            (a, b) if a == b => ptr,
            _ => {
                let p = unsafe { self.alloc(new) };
                if !p.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_shard() -> Shard {
        Shard {
            classes: [EMPTY; CLASSES],
            bytes: 0,
            small: [EMPTY_BIN; SMALL_BINS],
            small_bytes: 0,
        }
    }

    #[test]
    fn small_blocks_go_to_bins_by_size() {
        let l = |s, a| Layout::from_size_align(s, a).expect("layout");
        assert_eq!(kept(l(1, 1)), Kept::Small(0));
        assert_eq!(kept(l(16, 8)), Kept::Small(0));
        assert_eq!(kept(l(17, 8)), Kept::Small(1));
        assert_eq!(kept(l(1009, 8)), Kept::Small(SMALL_BINS - 1));
        assert_eq!(kept(l(1023, 16)), Kept::Small(SMALL_BINS - 1));
        assert_eq!(small_layout(SMALL_BINS - 1).size(), 1024);
        assert_eq!(kept(l(1024, 16)), Kept::Class(l(1024, 16)));
        assert_eq!(kept(l(100, 32)), Kept::Class(l(128, 32)));
        assert_eq!(kept(l(100_000, 8)), Kept::Not);
    }

    #[test]
    fn freed_small_blocks_serve_their_size_up_to_a_bin_and_a_budget() {
        let mut shard = empty_shard();
        let bin = 5; // 96 bytes
        let blocks: Vec<*mut u8> = (0..SMALL_PER_BIN + 1)
            .map(|_| unsafe { System.alloc(small_layout(bin)) })
            .collect();
        assert!(blocks.iter().all(|b| !b.is_null()));
        for &b in &blocks[..SMALL_PER_BIN as usize] {
            assert!(shard.push_small(b, bin));
        }
        let last = blocks[SMALL_PER_BIN as usize];
        assert!(!shard.push_small(last, bin), "a full bin keeps no more");
        assert_eq!(shard.small_bytes, SMALL_PER_BIN as usize * 96);
        assert_eq!(shard.pop_small(bin + 1), None, "another size has none");
        assert!(!shard.push_small(last, SMALL_BINS), "no bin past the last");
        unsafe { System.dealloc(last, small_layout(bin)) };
        // Last kept, first given back; then each of the others, then none.
        assert_eq!(
            shard.pop_small(bin),
            Some(blocks[SMALL_PER_BIN as usize - 1])
        );
        for _ in 1..SMALL_PER_BIN {
            let b = shard.pop_small(bin).expect("kept");
            assert!(blocks.contains(&b));
            unsafe { System.dealloc(b, small_layout(bin)) };
        }
        assert_eq!(shard.pop_small(bin), None);
        assert_eq!(shard.small_bytes, 0);
        // The budget bounds all bins together.
        shard.small_bytes = SMALL_BUDGET - 95;
        let b = unsafe { System.alloc(small_layout(bin)) };
        assert!(!shard.push_small(b, bin));
        unsafe { System.dealloc(b, small_layout(bin)) };
        // Before a trim every kept block goes back.
        shard.small_bytes = 0;
        for bin in [0, 7, SMALL_BINS - 1] {
            let b = unsafe { System.alloc(small_layout(bin)) };
            assert!(shard.push_small(b, bin));
        }
        shard.give_back_small();
        assert_eq!(shard.small_bytes, 0);
        assert!(shard.small.iter().all(|b| b.count == 0 && b.head.is_null()));
    }

    #[test]
    fn kept_classes() {
        let l = |s, a| Layout::from_size_align(s, a).expect("layout");
        // glibc's fast cases go to it unchanged.
        assert_eq!(class_of(l(100, 8)), None);
        assert_eq!(class_of(l(1023, 16)), None);
        assert_eq!(class_of(l(100_000, 8)), None);
        // Aligned ones and 1-8 KB ones are kept, rounded to 64 bytes.
        assert_eq!(class_of(l(100, 128)), Some(l(128, 128)));
        assert_eq!(class_of(l(4400, 8)), Some(l(4416, 8)));
    }

    #[test]
    fn a_freed_block_serves_the_next_allocation_of_its_class() {
        let mut shard = empty_shard();
        let class = class_of(Layout::from_size_align(4400, 16).expect("layout")).expect("kept");
        let other = class_of(Layout::from_size_align(100, 128).expect("layout")).expect("kept");
        let blocks: Vec<*mut u8> = (0..PER_CLASS + 1)
            .map(|_| unsafe { System.alloc(class) })
            .collect();
        assert!(blocks.iter().all(|b| !b.is_null()));
        for &b in &blocks[..PER_CLASS as usize] {
            assert!(shard.push(b, class));
        }
        // Full: the last one goes back to the system.
        assert!(!shard.push(blocks[PER_CLASS as usize], class));
        unsafe { System.dealloc(blocks[PER_CLASS as usize], class) };
        assert_eq!(shard.pop(other), None, "another class has none");
        // A class whose place another holds is kept in the next one; a third is not kept.
        let beside = class_of(Layout::from_size_align(5440, 16).expect("layout")).expect("kept");
        assert_eq!(place(beside), place(class));
        let b = unsafe { System.alloc(beside) };
        assert!(shard.push(b, beside));
        let third = class_of(Layout::from_size_align(6464, 16).expect("layout")).expect("kept");
        assert_eq!(place(third), place(class));
        let t = unsafe { System.alloc(third) };
        assert!(!shard.push(t, third));
        assert_eq!(shard.pop(third), None);
        unsafe { System.dealloc(t, third) };
        assert_eq!(shard.pop(beside), Some(b));
        assert_eq!(shard.pop(beside), None);
        unsafe { System.dealloc(b, beside) };
        // Last kept, first given back; then each of the others, then none.
        assert_eq!(shard.pop(class), Some(blocks[PER_CLASS as usize - 1]));
        for _ in 1..PER_CLASS {
            let b = shard.pop(class).expect("kept");
            assert!(blocks.contains(&b));
            unsafe { System.dealloc(b, class) };
        }
        assert_eq!(shard.pop(class), None);
        assert_eq!(shard.bytes, 0);
        // A full shard keeps nothing more.
        shard.bytes = BUDGET - class.size() + 1;
        assert!(!shard.push(blocks[PER_CLASS as usize - 1], class));
        unsafe { System.dealloc(blocks[PER_CLASS as usize - 1], class) };
    }

    #[test]
    fn the_allocator_keeps_contents_and_zeroes() {
        let a = Cached;
        let l = Layout::from_size_align(4400, 16).expect("layout");
        unsafe {
            let p = a.alloc(l);
            assert!(!p.is_null());
            p.write_bytes(7, l.size());
            let z = a.realloc(p, l, 6000);
            assert!(!z.is_null());
            assert_eq!(*z.add(4399), 7, "realloc keeps the contents");
            let y = a.realloc(
                z,
                Layout::from_size_align(6000, 16).expect("layout"),
                200_000,
            );
            assert_eq!(*y.add(4399), 7, "realloc keeps the contents");
            a.dealloc(y, Layout::from_size_align(200_000, 16).expect("layout"));
            a.dealloc(a.alloc(l), l);
            let zeroed = a.alloc_zeroed(l);
            assert!((0..l.size()).all(|i| *zeroed.add(i) == 0));
            a.dealloc(zeroed, l);
            // Small blocks: kept, handed out again, grown out of their bin with their contents.
            let s = Layout::from_size_align(40, 8).expect("layout");
            let p = a.alloc(s);
            p.write_bytes(9, s.size());
            a.dealloc(p, s);
            let q = a.alloc_zeroed(s);
            assert!(
                (0..s.size()).all(|i| *q.add(i) == 0),
                "a kept block is zeroed"
            );
            q.write_bytes(5, s.size());
            let same = a.realloc(q, s, 48);
            assert_eq!(same, q, "the same bin: not moved");
            let grown = a.realloc(same, Layout::from_size_align(48, 8).expect("layout"), 3000);
            assert!(
                (0..40).all(|i| *grown.add(i) == 5),
                "realloc keeps the contents"
            );
            a.dealloc(grown, Layout::from_size_align(3000, 8).expect("layout"));
        }
    }
}
