//! Keeping the heap small: bounded malloc arenas, large buffers outside the heap, and memory given
//! back after a large review.
//!
//! glibc's malloc keeps freed memory in its arenas (one per thread that allocated, and large reviews
//! run on blocking-pool threads), so after one large review the RSS stayed high until exit, and
//! concurrent large reviews each grew an arena of their own. [`tune`] caps the arenas and sends
//! large allocations (request bodies, long strings) to mmap, where a free returns them at once;
//! [`give_back`] trims what the heap still holds after a large review.

/// Allocations from this size up are mmapped and unmapped on free. Setting it also stops glibc from
/// raising the threshold after each large free (it would otherwise climb to 32 MiB, and the next
/// large body would land in the heap and stay there).
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Free memory at the top of the heap kept for reuse instead of being returned at every free
/// (fixing the mmap threshold also fixes this one at its 128 KiB default, and the small reviews'
/// buffers would then go back and forth to the kernel). Large reviews trim with [`give_back`].
const TRIM_THRESHOLD: i32 = 1024 * 1024;

/// Two arenas: the I/O workers and the blocking pool, instead of up to eight per core.
const ARENA_MAX: i32 = 2;

/// Sets the allocator up for a small, bounded heap. Call once at startup, before other threads.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's malloc parameters; called before other threads start.
    unsafe {
        // mallopt returns 0 on failure; the defaults then stay, which is only less frugal.
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Returns free heap pages to the kernel, where the allocator supports it.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap metadata under its arena locks; it takes no
    // pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
