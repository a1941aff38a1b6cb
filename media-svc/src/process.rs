//! `media-svc process FILE... --out DIR`: the very same validation and
//! normalization as UploadImage, offline, for operators and benchmarks.

use std::{path::Path, time::Instant};

use serde_json::json;

use crate::{config::ProcessArgs, pipeline::Pipeline};

/// Processes every file; returns how many were refused or failed.
pub fn run(args: &ProcessArgs) -> anyhow::Result<usize> {
    std::fs::create_dir_all(&args.out)?;
    let pipeline = Pipeline::new(args.limits.into());
    let mut failures = 0;
    for file in &args.files {
        let line = match process_file(&pipeline, file, &args.out) {
            Ok(line) => line,
            Err(line) => {
                failures += 1;
                line
            }
        };
        println!("{line}");
    }
    Ok(failures)
}

fn process_file(pipeline: &Pipeline, file: &Path, out: &Path) -> Result<serde_json::Value, serde_json::Value> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file)
        .map_err(|error| json!({ "file": name, "error": { "reason": "READ_FAILED", "message": error.to_string() } }))?;
    let started = Instant::now();
    let normalized = pipeline.normalize(&bytes).map_err(|rejection| {
        json!({ "file": name, "error": { "reason": rejection.reason(), "message": rejection.to_string() } })
    })?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let stem = file.file_stem().map_or_else(|| "image".into(), |stem| stem.to_string_lossy().into_owned());
    let mut renditions = Vec::new();
    for rendition in &normalized.renditions {
        let path = out.join(format!("{stem}-{}.{}", rendition.size, rendition.format.extension()));
        std::fs::write(&path, &rendition.bytes).map_err(
            |error| json!({ "file": name, "error": { "reason": "WRITE_FAILED", "message": error.to_string() } }),
        )?;
        renditions.push(json!({
            "size": rendition.size,
            "width": rendition.width,
            "height": rendition.height,
            "content_type": rendition.format.content_type(),
            "bytes": rendition.bytes.len(),
            "path": path.display().to_string(),
        }));
    }
    Ok(json!({ "file": name, "image": normalized.info, "renditions": renditions, "elapsed_ms": elapsed_ms }))
}
