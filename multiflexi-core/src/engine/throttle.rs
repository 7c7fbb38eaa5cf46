/// Resident set size of this process in MiB (Linux `/proc/self/statm`; `None` elsewhere).
///
/// The dispatcher stops claiming while this is above `MULTIFLEXI_MEMORY_LIMIT_MB`.
pub fn process_rss_mb() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident_pages * 4096 / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_rss_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = super::process_rss_mb().unwrap();
            assert!(rss > 0 && rss < 100_000, "{rss}");
        }
    }
}
