//! Giving memory back. A pass holds three trees of every item (100,000
//! files: tens of MiB); once they are freed, glibc keeps the pages in its
//! heaps and the daemon's RSS stays at its peak. On Linux with glibc the
//! daemon caps the number of malloc arenas (one per thread by default, up
//! to 8 per core) and trims the heaps after each pass. Elsewhere these are
//! no-ops.

/// Cap malloc arenas (call once, early, before threads start).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc tuning parameter; M_ARENA_MAX with
    // a positive value is always valid, and it is called before threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Return freed heap memory to the system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim walks glibc's own heaps under their locks; it has
    // no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
