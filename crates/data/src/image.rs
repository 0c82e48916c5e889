//! Image previews (data-api.md §7.2): Pillow's `thumbnail` size rule, RGB
//! conversion, JPEG at quality 84. EXIF orientation is deliberately not
//! applied (Python does not either), and decoding is bounded in memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::Path;

use ::image::codecs::jpeg::JpegEncoder;
use ::image::imageops::{self, FilterType};
use ::image::{DynamicImage, ImageError, ImageReader, Limits, RgbImage};

use crate::DataError;

/// Largest width or height we decode.
const MAX_SIDE: u32 = 20_000;
/// Largest decoder allocation (the decoded image included).
const MAX_ALLOC: u64 = 1 << 30;
/// Largest `size` a client may ask for.
const MAX_PIXELS: u32 = 10_000;
const JPEG_QUALITY: u8 = 84;

const SIZE_HELP: &str =
    "size must be 'orig', 'thumb', 'large' or a whole number of pixels from 1 to 10000";

/// The `size` parameter of image routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageSize {
    /// The original file, served as it is.
    Orig,
    /// 150 pixels.
    #[default]
    Thumb,
    /// 1500 pixels.
    Large,
    /// Any box from 1 to 10000 pixels.
    Pixels(u32),
}

impl ImageSize {
    /// `orig`, `thumb`, `large`, or ASCII decimal digits (leading zeros
    /// allowed) worth 1..=10000. No sign, blank or `_` (Python's `int()`
    /// accepts them; we answer 400 rather than guess).
    pub fn parse(text: &str) -> Result<ImageSize, DataError> {
        match text {
            "orig" => return Ok(ImageSize::Orig),
            "thumb" => return Ok(ImageSize::Thumb),
            "large" => return Ok(ImageSize::Large),
            _ => {}
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DataError::invalid(SIZE_HELP));
        }
        let significant = text.trim_start_matches('0');
        match significant.parse::<u32>() {
            Ok(n) if significant.len() <= 5 && (1..=MAX_PIXELS).contains(&n) => {
                Ok(ImageSize::Pixels(n))
            }
            _ => Err(DataError::invalid(SIZE_HELP)),
        }
    }

    /// The `size` text of the cache file name: `thumb`, `large`, or the
    /// integer without leading zeros (`0150` → `150`), as Python writes it.
    pub fn cache_text(&self) -> String {
        match self {
            ImageSize::Orig => "orig".to_owned(),
            ImageSize::Thumb => "thumb".to_owned(),
            ImageSize::Large => "large".to_owned(),
            ImageSize::Pixels(n) => n.to_string(),
        }
    }

    /// The side of the bounding box, or `None` for the original.
    pub fn max_side(&self) -> Option<u32> {
        match self {
            ImageSize::Orig => None,
            ImageSize::Thumb => Some(150),
            ImageSize::Large => Some(1500),
            ImageSize::Pixels(n) => Some(*n),
        }
    }
}

/// Pillow's `Image.thumbnail((n, n))` size: fit inside `n`×`n` keeping the
/// aspect ratio, never enlarge; the computed side is the floor or the ceil of
/// its exact value, whichever ratio is closer to the original (floor on a
/// tie), at least 1.
pub fn thumbnail_dimensions(width: u32, height: u32, box_side: u32) -> (u32, u32) {
    let side = box_side.max(1);
    if width == 0 || height == 0 || (side >= width && side >= height) {
        return (width, height);
    }
    let n = f64::from(side);
    let aspect = f64::from(width) / f64::from(height);
    if 1.0 >= aspect {
        // Python compares x / y >= aspect, with x == y == n.
        let w = round_aspect(n * aspect, |c| (aspect - c / n).abs());
        (w, side)
    } else {
        let key = |c: f64| {
            if c == 0.0 {
                0.0
            } else {
                (aspect - n / c).abs()
            }
        };
        (side, round_aspect(n / aspect, key))
    }
}

/// Pillow's `round_aspect`: `max(min(floor, ceil, key=key), 1)`; `min`
/// keeps the first (floor) on equal keys.
fn round_aspect(number: f64, key: impl Fn(f64) -> f64) -> u32 {
    let (lo, hi) = (number.floor(), number.ceil());
    let pick = if key(hi) < key(lo) { hi } else { lo };
    // `as` saturates; the value is at most the box side anyway.
    (pick as u32).max(1)
}

/// A JPEG preview of the image in `source` fitting a `max_side` box.
pub fn render_preview(source: &[u8], max_side: u32) -> Result<Vec<u8>, DataError> {
    render(Cursor::new(source), max_side)
}

/// [`render_preview`] of the image file at `path`, read through a buffer.
pub fn render_preview_file(path: &Path, max_side: u32) -> Result<Vec<u8>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io("cannot open an image", e))?;
    render(BufReader::new(file), max_side)
}

fn render(reader: impl BufRead + Seek, max_side: u32) -> Result<Vec<u8>, DataError> {
    let rgb = to_rgb8(decode(reader)?)?;
    let (w, h) = thumbnail_dimensions(rgb.width(), rgb.height(), max_side);
    let rgb = if (w, h) == rgb.dimensions() {
        rgb
    } else {
        // Catmull-Rom is the bicubic filter Pillow's BICUBIC also uses.
        imageops::resize(&rgb, w, h, FilterType::CatmullRom)
    };
    encode_jpeg(&rgb)
}

fn decode(reader: impl BufRead + Seek) -> Result<DynamicImage, DataError> {
    let mut reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|e| DataError::io("cannot read an image", e))?;
    if reader.format().is_none() {
        return Err(unreadable());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(|error| match error {
        ImageError::Limits(_) => {
            tracing::info!(%error, "image refused by the decoding limits");
            DataError::invalid("the image is too large to preview")
        }
        ImageError::IoError(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            DataError::io("cannot read an image", e)
        }
        error => {
            tracing::info!(%error, "image not decodable");
            unreadable()
        }
    })
}

fn unreadable() -> DataError {
    DataError::invalid("the file is not a readable image (JPEG, PNG or TIFF)")
}

/// RGB with alpha dropped (not composited), grey replicated, and 16-bit
/// samples scaled by `v >> 8` (Pillow would clip them to 255).
fn to_rgb8(img: DynamicImage) -> Result<RgbImage, DataError> {
    let (w, h) = (img.width(), img.height());
    let (raw, channels) = match img {
        DynamicImage::ImageLuma16(b) => (b.into_raw(), 1),
        DynamicImage::ImageLumaA16(b) => (b.into_raw(), 2),
        DynamicImage::ImageRgb16(b) => (b.into_raw(), 3),
        DynamicImage::ImageRgba16(b) => (b.into_raw(), 4),
        other => return Ok(other.into_rgb8()),
    };
    let mut out = Vec::with_capacity(raw.len() / channels * 3);
    for px in raw.chunks_exact(channels) {
        let hi = |i: usize| (px[i] >> 8) as u8;
        match channels {
            1 | 2 => out.extend_from_slice(&[hi(0); 3]),
            _ => out.extend_from_slice(&[hi(0), hi(1), hi(2)]),
        }
    }
    RgbImage::from_raw(w, h, out).ok_or_else(unreadable)
}

fn encode_jpeg(rgb: &RgbImage) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(rgb)
        .map_err(|e| {
            DataError::io(
                "cannot encode a JPEG preview",
                std::io::Error::other(e.to_string()),
            )
        })?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use ::image::codecs::png::PngEncoder;
    use ::image::codecs::tiff::TiffEncoder;
    use ::image::{ExtendedColorType, ImageBuffer, ImageEncoder, Luma, Rgba};

    #[test]
    fn parse_sizes() {
        assert_eq!(ImageSize::parse("orig").unwrap(), ImageSize::Orig);
        assert_eq!(ImageSize::parse("thumb").unwrap(), ImageSize::Thumb);
        assert_eq!(ImageSize::parse("large").unwrap(), ImageSize::Large);
        assert_eq!(ImageSize::parse("0150").unwrap(), ImageSize::Pixels(150));
        assert_eq!(ImageSize::parse("1").unwrap(), ImageSize::Pixels(1));
        assert_eq!(ImageSize::parse("10000").unwrap(), ImageSize::Pixels(10000));
        assert_eq!(
            ImageSize::parse("0000000000064").unwrap(),
            ImageSize::Pixels(64)
        );
        for bad in [
            "",
            "0",
            "000",
            "10001",
            "99999999999999999999",
            "+150",
            "-5",
            "1_500",
            " 150",
            "15.0",
            "Thumb",
            "١٢",
            "big",
        ] {
            let err = ImageSize::parse(bad).unwrap_err();
            assert!(
                matches!(&err, DataError::InvalidInput(m) if m.contains("10000")),
                "{bad}"
            );
        }
        assert_eq!(ImageSize::default(), ImageSize::Thumb);
    }

    #[test]
    fn cache_texts() {
        assert_eq!(ImageSize::parse("0150").unwrap().cache_text(), "150");
        assert_eq!(ImageSize::Thumb.cache_text(), "thumb");
        assert_eq!(ImageSize::Large.cache_text(), "large");
        assert_eq!(ImageSize::Thumb.max_side(), Some(150));
        assert_eq!(ImageSize::Large.max_side(), Some(1500));
        assert_eq!(ImageSize::Orig.max_side(), None);
    }

    #[test]
    fn pillow_dimensions() {
        assert_eq!(thumbnail_dimensions(1440, 1080, 150), (150, 113));
        assert_eq!(thumbnail_dimensions(1440, 1080, 1500), (1440, 1080));
        assert_eq!(thumbnail_dimensions(96, 72, 150), (96, 72));
        assert_eq!(thumbnail_dimensions(96, 72, 1500), (96, 72));
        assert_eq!(thumbnail_dimensions(96, 72, 64), (64, 48));
        // Not symmetric: 112.5 ties, and the float keys favour the floor.
        assert_eq!(thumbnail_dimensions(1080, 1440, 150), (112, 150));
        assert_eq!(thumbnail_dimensions(200, 200, 150), (150, 150));
        // Only one side over the box: still shrinks, never enlarges.
        assert_eq!(thumbnail_dimensions(100, 200, 150), (75, 150));
        // Extreme ratios keep at least one pixel.
        assert_eq!(thumbnail_dimensions(10000, 1, 150), (150, 1));
        assert_eq!(thumbnail_dimensions(1, 10000, 150), (1, 150));
        // Pillow picks the ratio closest to the original, not the nearest
        // integer: 1000x333 in 100 → 33.3 → 33.
        assert_eq!(thumbnail_dimensions(1000, 333, 100), (100, 33));
        assert_eq!(thumbnail_dimensions(1000, 335, 100), (100, 34));
    }

    fn decode_jpeg(bytes: &[u8]) -> DynamicImage {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .unwrap();
        assert_eq!(reader.format(), Some(::image::ImageFormat::Jpeg));
        reader.decode().unwrap()
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = ImageBuffer::from_fn(width, height, |x, y| {
            Rgba([(x % 256) as u8, (y % 256) as u8, 200, (x % 2 * 255) as u8])
        });
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(img.as_raw(), width, height, ExtendedColorType::Rgba8)
            .unwrap();
        out
    }

    #[test]
    fn rgba_png_thumb() {
        let jpeg = render_preview(&png(400, 300), 150).unwrap();
        let out = decode_jpeg(&jpeg);
        assert_eq!((out.width(), out.height()), (150, 113));
        // Never enlarged.
        let out = decode_jpeg(&render_preview(&png(96, 72), 1500).unwrap());
        assert_eq!((out.width(), out.height()), (96, 72));
        let out = decode_jpeg(&render_preview(&png(96, 72), 64).unwrap());
        assert_eq!((out.width(), out.height()), (64, 48));
    }

    #[test]
    fn sixteen_bit_tiff_is_scaled() {
        let img: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_fn(40, 30, |_, _| Luma([0xC0FF]));
        let mut tiff = Cursor::new(Vec::new());
        TiffEncoder::new(&mut tiff)
            .write_image(
                bytemuck_u16(img.as_raw()).as_slice(),
                40,
                30,
                ExtendedColorType::L16,
            )
            .unwrap();
        let jpeg = render_preview(tiff.get_ref(), 20).unwrap();
        let out = decode_jpeg(&jpeg).into_rgb8();
        assert_eq!(out.dimensions(), (20, 15));
        let px = out.get_pixel(10, 7).0;
        assert!(px.iter().all(|c| c.abs_diff(0xC0) <= 2), "{px:?}");

        // The conversion itself is exactly v >> 8.
        let rgb = to_rgb8(DynamicImage::ImageLuma16(img)).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [0xC0; 3]);
        let rgba16 = ImageBuffer::from_fn(1, 1, |_, _| Rgba([0x1234u16, 0xFFFF, 0x00FF, 7]));
        let rgb = to_rgb8(DynamicImage::ImageRgba16(rgba16)).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [0x12, 0xFF, 0x00]);
    }

    /// Native-endian bytes of u16 samples, as image's encoders take them.
    fn bytemuck_u16(samples: &[u16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_ne_bytes()).collect()
    }

    #[test]
    fn palette_png_is_expanded() {
        // 4x2, two colours: columns 0-1 blue (index 1), 2-3 red (index 0).
        let palette = [255, 0, 0, 0, 0, 255];
        let rows = [[0u8, 0b0101_0000], [0u8, 0b0101_0000]];
        let png = handmade_palette_png(4, 2, &palette, &rows);
        let jpeg = render_preview(&png, 150).unwrap();
        let out = decode_jpeg(&jpeg).into_rgb8();
        assert_eq!(out.dimensions(), (4, 2));
        let left = out.get_pixel(0, 0).0;
        assert!(left[2] > 200 && left[0] < 60, "blue: {left:?}");
        let right = out.get_pixel(3, 1).0;
        assert!(right[0] > 200 && right[2] < 60, "red: {right:?}");
    }

    /// A palette PNG with 2-bit indices, written by hand (image's encoder
    /// does not write palettes); each row starts with its filter byte.
    fn handmade_palette_png(w: u32, h: u32, palette: &[u8], rows: &[[u8; 2]]) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&crc.finalize().to_be_bytes());
        }
        let raw: Vec<u8> = rows.iter().flatten().copied().collect();
        // zlib, one stored block, then the Adler-32 of the raw data.
        let mut z = vec![0x78, 0x01, 0x01];
        z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
        z.extend_from_slice(&raw);
        let (mut a, mut b) = (1u32, 0u32);
        for byte in &raw {
            a = (a + u32::from(*byte)) % 65521;
            b = (b + a) % 65521;
        }
        z.extend_from_slice(&((b << 16) | a).to_be_bytes());
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[2, 3, 0, 0, 0]); // depth 2, palette
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"PLTE", palette);
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn unreadable_inputs_are_invalid_input() {
        for bytes in [
            &b""[..],
            b"not an image at all",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        ] {
            assert!(matches!(
                render_preview(bytes, 150),
                Err(DataError::InvalidInput(m)) if m.contains("not a readable image")
            ));
        }
        // A truncated PNG.
        let whole = png(64, 64);
        let cut = &whole[..whole.len() / 2];
        assert!(matches!(
            render_preview(cut, 150),
            Err(DataError::InvalidInput(_))
        ));
    }

    #[test]
    fn huge_dimensions_are_refused() {
        // A valid PNG header claiming 30000x30000: refused before decoding.
        let mut png = png(1, 1);
        png[16..20].copy_from_slice(&30000u32.to_be_bytes());
        png[20..24].copy_from_slice(&30000u32.to_be_bytes());
        let ihdr_crc = crc32fast::hash(&png[12..29]);
        png[29..33].copy_from_slice(&ihdr_crc.to_be_bytes());
        assert!(matches!(
            render_preview(&png, 150),
            Err(DataError::InvalidInput(m)) if m.contains("too large")
        ));
    }

    #[test]
    fn file_variant_reads_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        std::fs::write(&path, png(30, 60)).unwrap();
        let out = decode_jpeg(&render_preview_file(&path, 20).unwrap());
        assert_eq!((out.width(), out.height()), (10, 20));
        assert!(matches!(
            render_preview_file(&dir.path().join("missing.png"), 20),
            Err(DataError::Io { .. })
        ));
    }
}
