//! Signing times, URL reuse and the URL cache's bounds and speed.

use super::*;

#[test]
fn ttl_must_be_two_seconds_to_seven_days() {
    assert!(UrlTtl::parse(Duration::from_secs(2)).is_ok());
    assert!(UrlTtl::parse(Duration::from_secs(1)).is_err(), "would leave less than half of it");
    assert!(UrlTtl::parse(UrlTtl::MAX).is_ok());
    let error = UrlTtl::parse(UrlTtl::MAX + Duration::from_secs(1)).unwrap_err();
    assert!(error.contains("7days"), "{error}");
    assert!(UrlTtl::parse(Duration::from_millis(500)).is_err());
}

#[test]
fn signing_time_is_constant_within_half_a_ttl_and_leaves_half_a_ttl() {
    let ttl = UrlTtl::parse(Duration::from_secs(3600)).unwrap();
    let base = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let start = ttl.bucket_start(base);
    for offset in [0, 1, 600, 1799] {
        let now = base + Duration::from_secs(offset);
        assert_eq!(ttl.bucket_start(now), start, "offset {offset}");
        let remaining = (start + ttl.get()).duration_since(now).unwrap();
        assert!(remaining >= Duration::from_secs(1800), "offset {offset}: {remaining:?}");
    }
    assert_ne!(ttl.bucket_start(base + Duration::from_secs(1800)), start);
}

#[test]
fn url_cache_signs_each_object_once_per_bucket_and_ttl() {
    let cache = UrlCache::default();
    let signatures = std::cell::Cell::new(0);
    let sign = |key: &str| {
        signatures.set(signatures.get() + 1);
        Ok(format!("signed-{key}-{}", signatures.get()))
    };
    let (start, ttl) = (UNIX_EPOCH + Duration::from_secs(1_800_000_000), Duration::from_secs(3600));
    for _ in 0..3 {
        assert_eq!(cache.get_or_sign("a".into(), start, ttl, sign).unwrap(), "signed-a-1");
    }
    assert_eq!(signatures.get(), 1);
    cache.get_or_sign("b".into(), start, ttl, sign).unwrap();
    cache.get_or_sign("a".into(), start + Duration::from_secs(1800), ttl, sign).unwrap();
    cache.get_or_sign("a".into(), start, Duration::from_secs(60), sign).unwrap();
    assert_eq!(signatures.get(), 4, "another object, bucket or TTL is signed anew");
}

#[test]
fn url_cache_stays_bounded_however_many_ttls_callers_ask_for() {
    let cache = UrlCache::with_capacity(100);
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for seconds in 2..2_002 {
        cache.get_or_sign("a".into(), start, Duration::from_secs(seconds), |key| Ok(key.to_owned())).unwrap();
    }
    assert!(cache.entries.len() <= 100, "{} entries", cache.entries.len());
}

mod remaining_validity {
    use super::*;

    /// Each URL stays valid for at least half its TTL, at any moment of its bucket.
    #[test]
    fn every_allowed_ttl_leaves_at_least_half_of_it() {
        for seconds in [2, 3, 4, 5, 7, 3600, 3601] {
            let ttl = UrlTtl::parse(Duration::from_secs(seconds)).unwrap();
            for offset_ms in (0..4_000).step_by(7) {
                let now = UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + offset_ms);
                let expires = ttl.bucket_start(now) + ttl.get();
                let left = expires.duration_since(now).unwrap();
                assert!(left >= ttl.get() / 2, "ttl {seconds}s at +{offset_ms}ms leaves {left:?}");
            }
        }
    }
}

mod cache_speed {
    use super::*;

    /// Nanoseconds per cached URL (hit) and per first signature (miss, with a
    /// trivial signer), for comparing cache implementations:
    /// `cargo test --release -p media-svc --lib -- --ignored --nocapture url_cache_speed`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn url_cache_speed() {
        let keys: Vec<String> = (0..100_000).map(|i| format!("acme/images/{i:064x}/128.jpg")).collect();
        let (start, ttl) = (UNIX_EPOCH + Duration::from_secs(1_800_000_000), Duration::from_secs(3600));
        let cache = UrlCache::default();
        let sign = |key: &str| Ok(format!("https://s3.example/{key}?X-Amz-Signature=0123456789abcdef"));
        let started = std::time::Instant::now();
        for key in &keys {
            std::hint::black_box(cache.get_or_sign(key.clone(), start, ttl, sign).unwrap());
        }
        let miss = started.elapsed().as_nanos() as f64 / keys.len() as f64;
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let started = std::time::Instant::now();
                for key in &keys {
                    std::hint::black_box(cache.get_or_sign(key.clone(), start, ttl, sign).unwrap());
                }
                started.elapsed().as_nanos() as f64 / keys.len() as f64
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!("url cache: {miss:.0} ns per miss, {:.0} ns per hit (median of 5 rounds)", rounds[2]);
    }
}
