//! Process limits raised at start-up: the soft open-files limit up to the
//! hard one, so that the journals, watchers, transfers and API connections
//! of many synchronizations do not run out of file descriptors (the soft
//! limit is often 1024, the hard one far higher).

/// Raise the soft open-files limit to the hard limit (on macOS at most
/// `OPEN_MAX`, which the kernel enforces). Returns the (old, new) soft
/// limit; elsewhere than on Unix nothing changes.
#[cfg(unix)]
// `rlim_t` is `u64` on Linux but not everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn raise_open_files() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let old = lim.rlim_cur;
    #[allow(unused_mut)]
    let mut target = lim.rlim_max;
    #[cfg(target_os = "macos")]
    {
        target = target.min(libc::OPEN_MAX as libc::rlim_t);
    }
    if target > old {
        lim.rlim_cur = target;
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((old as u64, target.max(old) as u64))
}

#[cfg(not(unix))]
pub fn raise_open_files() -> std::io::Result<(u64, u64)> {
    Ok((0, 0))
}

#[cfg(all(test, unix))]
#[allow(clippy::unnecessary_cast)]
mod tests {
    use super::*;

    fn soft_and_hard() -> (libc::rlim_t, libc::rlim_t) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        (lim.rlim_cur, lim.rlim_max)
    }

    #[test]
    fn the_soft_open_files_limit_is_raised_to_the_hard_limit() {
        let (_, hard) = soft_and_hard();
        // One below the hard limit first (a lower soft limit would risk
        // other tests of this process): the raise must be seen.
        let lowered = libc::rlimit {
            rlim_cur: hard - 1,
            rlim_max: hard,
        };
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        let (old, new) = raise_open_files().unwrap();
        assert_eq!(old, (hard - 1) as u64);
        let (soft, _) = soft_and_hard();
        #[cfg(not(target_os = "macos"))]
        {
            assert_eq!(soft, hard);
            assert_eq!(new, hard as u64);
        }
        #[cfg(target_os = "macos")]
        assert_eq!(soft as u64, new);
    }
}
