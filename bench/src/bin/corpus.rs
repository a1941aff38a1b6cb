//! Writes the benchmark corpus: `corpus --out DIR` makes DIR/jpeg and DIR/png.

use std::path::PathBuf;

use accommador_bench::corpus::{self, CorpusFile};
use accommador_pipeline::Limits;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Writes the avatar benchmark corpus (24 camera-like JPEGs, 10 PNGs)")]
struct Args {
    /// Directory to write jpeg/ and png/ into.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let max_bytes = Limits::default().max_bytes;
    for (folder, files) in [("jpeg", corpus::jpegs()), ("png", corpus::pngs())] {
        let directory = args.out.join(folder);
        std::fs::create_dir_all(&directory)?;
        for CorpusFile { name, bytes, description } in files {
            // A file media-svc refuses would measure the refusal, not the pipeline.
            anyhow::ensure!(bytes.len() <= max_bytes, "{name} is {} bytes, over the {max_bytes} limit", bytes.len());
            std::fs::write(directory.join(&name), &bytes)?;
            println!("{folder}/{name}\t{:.2} MB\t{description}", bytes.len() as f64 / 1e6);
        }
    }
    Ok(())
}
