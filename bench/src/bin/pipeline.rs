//! The pipeline alone, at a chosen concurrency: the ceiling that end-to-end
//! CreateContact throughput (bench/e2e.sh) is compared against.
//!
//!   pipeline --corpus DIR --threads 4 --passes 2

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::Instant,
};

use accommador_pipeline::Pipeline;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Runs the avatar pipeline over a directory of images on N threads and reports avatars per second")]
struct Args {
    /// Directory of images (one format set of the corpus).
    #[arg(long)]
    corpus: PathBuf,
    /// Images processed at once.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Times each image is processed.
    #[arg(long, default_value_t = 2)]
    passes: usize,
}

fn main() -> anyhow::Result<()> {
    // media-svc's allocator settings, so the ceiling is measured under the
    // same conditions.
    accommador_server::memory::release_large_blocks();
    let args = Args::parse();
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(&args.corpus)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.retain(|path| path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')));
    paths.sort();
    let images: Vec<Vec<u8>> = paths.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    anyhow::ensure!(!images.is_empty(), "no images in {}", args.corpus.display());
    let pipeline = Pipeline::default();
    let jobs = images.len() * args.passes;
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let job = next.fetch_add(1, Ordering::Relaxed);
                    if job >= jobs {
                        return;
                    }
                    pipeline.normalize(&images[job % images.len()]).expect("corpus images are valid");
                }
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "threads": args.threads,
        "avatars": jobs,
        "seconds": seconds,
        "avatars_per_second": jobs as f64 / seconds,
    });
    println!("{report}");
    Ok(())
}
