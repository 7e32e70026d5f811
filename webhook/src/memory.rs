//! Giving memory back to the system after a large review.
//!
//! glibc's malloc keeps freed memory in its arenas (one per thread that allocated, and reviews run
//! on blocking-pool threads), so after one large review the RSS stayed high until exit. A trim
//! after each large review returns the free pages; small reviews skip it (it costs a walk over
//! the heap).

/// Returns free heap pages to the kernel, where the allocator supports it.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap metadata under its arena locks; it takes no
    // pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
