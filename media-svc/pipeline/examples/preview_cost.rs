//! What the preview (ThumbHash and dominant colour) adds to an upload: the
//! time of `Preview::of` on each image's 128 px rendition against the time
//! of the whole `Pipeline::normalize` (which includes it), one thread.
//!
//!   cargo run --release -p accommador-pipeline --example preview_cost -- DIR...
//!
//! DIR holds images, e.g. the benchmark corpus (`bench/avatars.sh` makes it
//! in `target/release/bench-corpus/{jpeg,png}`).

use std::time::{Duration, Instant};

use accommador_pipeline::{Pipeline, Preview};

/// Runs of `normalize` per image; the fastest counts (least disturbed by other load).
const NORMALIZE_RUNS: u32 = 3;
/// Runs of `Preview::of` per image, averaged: one takes tens of microseconds.
const PREVIEW_RUNS: u32 = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pipeline = Pipeline::default();
    let mut shares = Vec::new();
    for dir in std::env::args().skip(1) {
        let mut paths: Vec<_> =
            std::fs::read_dir(&dir)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
        paths.retain(|path| path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')));
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path)?;
            let mut normalize = Duration::MAX;
            let mut normalized = None;
            for _ in 0..NORMALIZE_RUNS {
                let started = Instant::now();
                normalized = Some(pipeline.normalize(&bytes)?);
                normalize = normalize.min(started.elapsed());
            }
            let normalized = normalized.expect("at least one run");
            // The 128 px square as the pipeline had it before encoding (decoded back: close enough for timing).
            let smallest = &normalized.renditions[0];
            let image = image::load_from_memory(&smallest.bytes)?;
            let has_alpha = image.color().has_alpha();
            let pixels = if has_alpha { image.into_rgba8().into_raw() } else { image.into_rgb8().into_raw() };
            let started = Instant::now();
            for _ in 0..PREVIEW_RUNS {
                std::hint::black_box(Preview::of(smallest.width, std::hint::black_box(&pixels), has_alpha));
            }
            let preview = started.elapsed() / PREVIEW_RUNS;
            let share = preview.as_secs_f64() / normalize.as_secs_f64();
            shares.push(share);
            println!(
                "{}\t{} bytes\tnormalize {:.1} ms\tpreview {:.1} µs\t{:.3}%",
                path.display(),
                bytes.len(),
                normalize.as_secs_f64() * 1e3,
                preview.as_secs_f64() * 1e6,
                share * 100.0
            );
        }
    }
    shares.sort_by(f64::total_cmp);
    if let (Some(median), Some(worst)) = (shares.get(shares.len() / 2), shares.last()) {
        println!("preview share of normalize: median {:.3}%, worst {:.3}%", median * 100.0, worst * 100.0);
    }
    Ok(())
}
