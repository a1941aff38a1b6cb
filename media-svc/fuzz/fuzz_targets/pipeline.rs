//! Any bytes through validation and normalization: the pipeline must never
//! panic, and whatever it accepts must come out as square renditions of the
//! promised sizes, freshly encoded.
#![no_main]

use accommador_pipeline::{Format, Pipeline, RENDITION_SIZES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pipeline = Pipeline::default();
    let validated = pipeline.validate(data);
    match pipeline.normalize(data) {
        Ok(normalized) => {
            assert!(validated.is_ok(), "normalize accepted what validate refused");
            assert_eq!(normalized.renditions.len(), RENDITION_SIZES.len());
            for (rendition, size) in normalized.renditions.iter().zip(RENDITION_SIZES) {
                assert_eq!(rendition.width, rendition.height, "renditions are square");
                assert!(rendition.width <= size && rendition.width > 0, "never upscaled, never empty");
                let magic: &[u8] = match rendition.format {
                    Format::Jpeg => &[0xFF, 0xD8, 0xFF],
                    Format::Png => b"\x89PNG",
                };
                assert!(rendition.bytes.starts_with(magic), "freshly encoded");
            }
        }
        Err(rejection) => assert!(validated.is_err(), "validate accepted what normalize refused: {rejection}"),
    }
});
