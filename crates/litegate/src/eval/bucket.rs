//! Percentage bucketing: XXH3-64 of `salt`, a `.` and the bucketing value,
//! reduced modulo 100,000.
//!
//! The salt is the flag key unless the document sets `salt`, so flags are
//! independent unless they share a salt on purpose. Because a context's bucket
//! never changes, raising a percentage only adds contexts (buckets below the
//! new threshold) and lowering it removes the ones added last. Golden vectors
//! that any other implementation can check itself against are in
//! `docs/bucketing-vectors.json`.

use twox_hash::XxHash3_64;

/// The size of the bucket space: 0.001% resolution.
pub const BUCKETS: u32 = 100_000;

/// The bucket (0..100,000) of `value` for a flag salted with `salt`.
pub fn bucket(salt: &str, value: &[u8]) -> u32 {
    // Hash the concatenation without allocating: a stack buffer covers all
    // realistic ids; longer inputs stream (same result by XXH3's definition).
    // 128 bytes covers flag keys plus user and device ids; the buffer is
    // zeroed on every call, so it is kept small.
    const STACK: usize = 128;
    let total = salt.len() + 1 + value.len();
    let hash = if total <= STACK {
        let mut buf = [0u8; STACK];
        buf[..salt.len()].copy_from_slice(salt.as_bytes());
        buf[salt.len()] = b'.';
        buf[salt.len() + 1..total].copy_from_slice(value);
        XxHash3_64::oneshot(&buf[..total])
    } else {
        use std::hash::Hasher;
        let mut h = XxHash3_64::with_seed(0);
        h.write(salt.as_bytes());
        h.write(b".");
        h.write(value);
        h.finish()
    };
    (hash % u64::from(BUCKETS)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_and_oneshot_agree() {
        let long = "x".repeat(1000);
        let joined = format!("salt.{long}");
        assert_eq!(
            bucket("salt", long.as_bytes()),
            (XxHash3_64::oneshot(joined.as_bytes()) % 100_000) as u32
        );
        let short = "user-1";
        assert_eq!(
            bucket("flag", short.as_bytes()),
            (XxHash3_64::oneshot(b"flag.user-1") % 100_000) as u32
        );
    }
}
