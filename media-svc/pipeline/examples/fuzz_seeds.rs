//! Writes the fuzz target's seed corpus (small valid and broken JPEGs and
//! PNGs made by `samples`) into `media-svc/fuzz/corpus/{jpeg,png}`:
//!
//!   cargo run -p accommador-pipeline --example fuzz_seeds

use accommador_pipeline::samples::{self, JpegOptions, PngOptions};

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let upright = samples::photo(48, 40, 1);
    let jpegs: Vec<(&str, Vec<u8>)> = vec![
        ("baseline", samples::jpeg(&upright, JpegOptions::default())),
        ("progressive", samples::jpeg(&upright, JpegOptions { progressive: true, ..Default::default() })),
        (
            "exif-gps-6",
            samples::jpeg(&upright, JpegOptions { exif_orientation: Some(6), gps: true, ..Default::default() }),
        ),
        ("gray", samples::jpeg_gray(&upright)),
        ("cmyk", samples::jpeg_cmyk(&upright)),
        ("bomb", samples::jpeg_bomb(10_000, 10_000)),
    ];
    let pngs: Vec<(&str, Vec<u8>)> = vec![
        ("rgb", samples::png_rgb(&upright, &PngOptions::default())),
        ("rgba", samples::png_rgba(&samples::logo(48, 40), &PngOptions::default())),
        ("gray", samples::png_gray(&upright)),
        ("palette", samples::png_palette(&samples::quadrants(48, 40))),
        ("sixteen-bit", samples::png_rgb(&upright, &PngOptions { sixteen_bit: true, ..Default::default() })),
        ("animated", samples::png_rgb(&upright, &PngOptions { animated: true, ..Default::default() })),
        ("ztxt", samples::png_rgb(&upright, &PngOptions { ztxt_bytes: 4096, ..Default::default() })),
        ("bomb", samples::png_bomb(65_535, 65_535)),
    ];
    for (folder, files) in [("jpeg", jpegs), ("png", pngs)] {
        let folder = root.join(folder);
        std::fs::create_dir_all(&folder)?;
        for (name, bytes) in files {
            std::fs::write(folder.join(name), bytes)?;
        }
    }
    Ok(())
}
