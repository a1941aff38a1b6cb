//! Demo contacts for the local stack and the browser tests: people and
//! companies with portraits drawn by code (no downloads): a head and
//! shoulders on a backdrop, in colours of their own, mostly 512x512 JPEGs,
//! a few PNGs with a transparent backdrop, and some contacts without a
//! picture, who show their initials.

use std::io::Cursor;

use accommador_proto::accommador::contacts::v1::Contact;
use image::{ImageFormat, Rgba, RgbaImage};

const FIRST: [&str; 16] = [
    "Grace",
    "Alan",
    "Ada",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Hedy",
    "Tim",
    "Radia",
    "Donald",
    "Katherine",
    "Niklaus",
];
const LAST: [&str; 16] = [
    "Hopper",
    "Turing",
    "Lovelace",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Perlman",
    "Knuth",
    "Johnson",
    "Wirth",
];
const COMPANIES: [&str; 6] = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries"];

/// One demo contact: its fields, and its picture when it has one.
pub struct DemoContact {
    pub contact: Contact,
    pub picture: Option<Vec<u8>>,
}

/// `count` demo contacts; every seventh has no picture, every ninth's is a
/// PNG with transparency. The last (of two or more) is a likely duplicate of
/// the first, so the console's "Find duplicates" has something to merge:
/// the same name and email, a phone, no picture.
pub fn demo_contacts(count: usize) -> Vec<DemoContact> {
    let drawn = if count >= 2 { count - 1 } else { count };
    let mut demo: Vec<DemoContact> = (0..drawn)
        .map(|n| {
            let (first, last) = (FIRST[n % FIRST.len()], LAST[(n * 7 + n / FIRST.len()) % LAST.len()]);
            let contact = Contact {
                first_name: first.into(),
                last_name: last.into(),
                email: format!("{}.{}{n}@example.com", first.to_lowercase(), last.to_lowercase()),
                company_name: COMPANIES[n % COMPANIES.len()].into(),
                ..Default::default()
            };
            let picture = (n % 7 != 3).then(|| portrait(n as u32, n % 9 == 4));
            DemoContact { contact, picture }
        })
        .collect();
    if count >= 2 {
        let first = &demo[0].contact;
        let contact = Contact {
            first_name: first.first_name.clone(),
            last_name: first.last_name.clone(),
            email: first.email.clone(),
            phone: "+1 415 555 0100".into(),
            ..Default::default()
        };
        demo.push(DemoContact { contact, picture: None });
    }
    demo
}

/// A 512x512 portrait: a head and shoulders on a backdrop, coloured by
/// `seed`; PNG with a transparent backdrop when `transparent`, else JPEG.
pub fn portrait(seed: u32, transparent: bool) -> Vec<u8> {
    let hue = (seed.wrapping_mul(47) % 360) as f32;
    let backdrop = if transparent { Rgba([0, 0, 0, 0]) } else { hsl(hue, 0.45, 0.78) };
    let (skin, shirt, hair) = (
        hsl(20.0 + (seed % 5) as f32 * 6.0, 0.45, 0.45 + (seed % 4) as f32 * 0.1),
        hsl((hue + 180.0) % 360.0, 0.55, 0.35),
        hsl(25.0, 0.4, 0.12 + (seed % 3) as f32 * 0.15),
    );
    let mut canvas = RgbaImage::from_pixel(512, 512, backdrop);
    for (x, y, pixel) in canvas.enumerate_pixels_mut() {
        let (x, y) = (x as f32, y as f32);
        let head = ((x - 256.0) / 95.0).powi(2) + ((y - 215.0) / 115.0).powi(2) <= 1.0;
        let hair_cap = ((x - 256.0) / 105.0).powi(2) + ((y - 190.0) / 115.0).powi(2) <= 1.0 && y < 180.0;
        let shoulders = ((x - 256.0) / 210.0).powi(2) + ((y - 520.0) / 170.0).powi(2) <= 1.0;
        if hair_cap {
            *pixel = hair;
        } else if head {
            *pixel = skin;
        } else if shoulders {
            *pixel = shirt;
        }
    }
    let mut bytes = Cursor::new(Vec::new());
    if transparent {
        canvas.write_to(&mut bytes, ImageFormat::Png).expect("PNG encodes");
    } else {
        image::DynamicImage::ImageRgba8(canvas)
            .to_rgb8()
            .write_to(&mut bytes, ImageFormat::Jpeg)
            .expect("JPEG encodes");
    }
    bytes.into_inner()
}

fn hsl(hue: f32, saturation: f32, lightness: f32) -> Rgba<u8> {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let x = chroma * (1.0 - ((hue / 60.0) % 2.0 - 1.0).abs());
    let (r, g, b) = match (hue / 60.0) as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let channel = |value: f32| ((value + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgba([channel(r), channel(g), channel(b), 255])
}
