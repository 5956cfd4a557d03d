//! A global allocator that counts heap allocations: the allocation guards of the proxy and
//! health crates install it in their test binaries (`#[global_allocator] static A: Counting =
//! Counting;`) and read `allocations()` before and after the work they measure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting allocations (reallocations count too: a growing buffer is a
/// cost per request as well).
pub struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

/// Allocations made by the whole process so far (when `Counting` is its global allocator).
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

// The one unsafe of the test crates: forwarding to the system allocator is what a global
// allocator is; nothing else changes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
