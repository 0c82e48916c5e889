//! Hand-built FSDB fixtures (data-api.md §1): scan directories with
//! `files.json`, metadata, filesets and files, written with `std::fs` as
//! another program would; plus small, independent codecs the tests use to
//! check answers (PNG writer, JPEG size reader, Pillow's thumbnail rule,
//! a stored-zip reader, CRC-32).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// A scan being written under `<root>/<rel>`.
pub struct ScanFixture {
    pub dir: PathBuf,
    filesets: Vec<(String, Vec<(String, String)>)>,
}

impl ScanFixture {
    /// Creates `<root>/<rel>/` and its `metadata/` directory.
    pub fn new(root: &Path, rel: &str) -> ScanFixture {
        let dir = root.join(rel);
        std::fs::create_dir_all(dir.join("metadata")).unwrap();
        ScanFixture {
            dir,
            filesets: Vec::new(),
        }
    }

    /// Writes `rel` (parents created) inside the scan directory.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> &Self {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        self
    }

    pub fn json(&self, rel: &str, value: &Value) -> &Self {
        self.write(rel, serde_json::to_string_pretty(value).unwrap().as_bytes())
    }

    /// `metadata/metadata.json`.
    pub fn metadata(&self, value: Value) -> &Self {
        self.json("metadata/metadata.json", &value)
    }

    /// `metadata/<fs>.json`.
    pub fn fileset_metadata(&self, fs: &str, value: Value) -> &Self {
        self.json(&format!("metadata/{fs}.json"), &value)
    }

    /// `metadata/<fs>/<id>.json`.
    pub fn file_metadata(&self, fs: &str, id: &str, value: Value) -> &Self {
        self.json(&format!("metadata/{fs}/{id}.json"), &value)
    }

    /// An empty fileset (its directory and its files.json entry).
    pub fn fileset(&mut self, fs: &str) -> &mut Self {
        std::fs::create_dir_all(self.dir.join(fs)).unwrap();
        if !self.filesets.iter().any(|(id, _)| id == fs) {
            self.filesets.push((fs.to_string(), Vec::new()));
        }
        self
    }

    /// `<fs>/<name>` with `bytes`, entry `{"id": id, "file": name}`.
    pub fn file(&mut self, fs: &str, id: &str, name: &str, bytes: &[u8]) -> &mut Self {
        self.fileset(fs);
        self.write(&format!("{fs}/{name}"), bytes);
        self.entry(fs, id, name)
    }

    /// Only the files.json entry (the file itself is not written).
    pub fn entry(&mut self, fs: &str, id: &str, name: &str) -> &mut Self {
        self.fileset(fs);
        let files = &mut self.filesets.iter_mut().find(|(f, _)| f == fs).unwrap().1;
        files.push((id.to_string(), name.to_string()));
        self
    }

    /// An `images` file with its RGB channel metadata.
    pub fn rgb(&mut self, id: &str, name: &str, bytes: &[u8]) -> &mut Self {
        self.file("images", id, name, bytes);
        self.file_metadata("images", id, json!({"channel": "rgb"}));
        self
    }

    /// Writes `files.json` (Python's layout: sorted keys, 4 spaces).
    pub fn finish(&self) {
        let filesets: Vec<Value> = self
            .filesets
            .iter()
            .map(|(id, files)| {
                let files: Vec<Value> = files
                    .iter()
                    .map(|(f, name)| json!({"file": name, "id": f}))
                    .collect();
                json!({"files": files, "id": id})
            })
            .collect();
        self.json("files.json", &json!({ "filesets": filesets }));
    }
}

/// A minimal valid scan: one RGB image, metadata `metadata`.
pub fn simple_scan(root: &Path, rel: &str, metadata: Value) -> ScanFixture {
    let mut s = ScanFixture::new(root, rel);
    s.metadata(metadata);
    s.rgb("00000_rgb", "00000_rgb.png", &png(8, 6));
    s.finish();
    s
}

/// A timelapse container `<root>/<tl>/timelapse.json` with `scans`.
pub fn timelapse(root: &Path, tl: &str, scans: &[&str]) {
    std::fs::create_dir_all(root.join(tl)).unwrap();
    std::fs::write(
        root.join(tl).join("timelapse.json"),
        serde_json::to_string_pretty(&json!({
            "id": tl, "created_at": "2026-09-03T09:00:00", "owner": "admin",
            "scans": scans, "metadata": {"last_modified": "2026-09-03T09:00:00"}
        }))
        .unwrap(),
    )
    .unwrap();
}

// ---------------------------------------------------------------- codecs

/// CRC-32 (IEEE), as zip and PNG use it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// An 8-bit RGB PNG of `w`×`h` (a colour gradient), zlib with stored blocks.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    png_seeded(w, h, 0)
}

/// As [`png`], with `seed` changing the pixels.
pub fn png_seeded(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let mut pixels = Vec::new();
    for y in 0..h {
        for x in 0..w {
            pixels.extend_from_slice(&[
                (x * 255 / w.max(1)) as u8 ^ seed,
                (y * 255 / h.max(1)) as u8,
                seed.wrapping_mul(7),
            ]);
        }
    }
    png_raw(w, h, 2, 8, &pixels, None)
}

/// A PNG of any colour type and bit depth from packed pixel bytes (rows
/// of `w` pixels, no filter bytes); `palette`: PLTE entries for type 3.
pub fn png_raw(
    w: u32,
    h: u32,
    color_type: u8,
    depth: u8,
    pixels: &[u8],
    palette: Option<&[u8]>,
) -> Vec<u8> {
    let row = pixels.len() / h as usize;
    let mut raw = Vec::new();
    for r in pixels.chunks(row) {
        raw.push(0u8); // filter: none
        raw.extend_from_slice(r);
    }
    let mut z = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, c) in chunks.iter().enumerate() {
        z.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(c);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color_type, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    if let Some(p) = palette {
        chunk(b"PLTE", p);
    }
    chunk(b"IDAT", &z);
    chunk(b"IEND", &[]);
    out
}

/// An uncompressed little-endian TIFF, one strip; `samples` per pixel of
/// `bits` each (8 or 16), photometric 1 (grey) or 2 (RGB).
pub fn tiff(w: u32, h: u32, samples: u16, bits: u16) -> Vec<u8> {
    let bytes_per = usize::from(bits / 8);
    let data_len = w as usize * h as usize * usize::from(samples) * bytes_per;
    let data: Vec<u8> = (0..data_len).map(|i| (i * 37 % 251) as u8).collect();
    let entries: u16 = 10;
    let ifd_at = 8u32;
    let ifd_len = 2 + u32::from(entries) * 12 + 4;
    let bits_at = ifd_at + ifd_len; // BitsPerSample array (if samples > 1)
    let data_at = bits_at + u32::from(samples) * 2;
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&ifd_at.to_le_bytes());
    out.extend_from_slice(&entries.to_le_bytes());
    let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    };
    entry(256, 4, 1, w); // ImageWidth
    entry(257, 4, 1, h); // ImageLength
    if samples == 1 {
        entry(258, 3, 1, u32::from(bits)); // BitsPerSample
    } else {
        entry(258, 3, u32::from(samples), bits_at);
    }
    entry(259, 3, 1, 1); // Compression: none
    entry(262, 3, 1, if samples >= 3 { 2 } else { 1 }); // Photometric
    entry(273, 4, 1, data_at); // StripOffsets
    entry(277, 3, 1, u32::from(samples)); // SamplesPerPixel
    entry(278, 4, 1, h); // RowsPerStrip
    entry(279, 4, 1, data_len as u32); // StripByteCounts
    entry(284, 3, 1, 1); // PlanarConfiguration: chunky
    out.extend_from_slice(&0u32.to_le_bytes());
    for _ in 0..samples {
        out.extend_from_slice(&bits.to_le_bytes());
    }
    out.extend_from_slice(&data);
    out
}

/// Width and height from a JPEG's SOF marker, or `None` if not a JPEG.
pub fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..3)? != [0xFF, 0xD8, 0xFF] {
        return None;
    }
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if sof {
            let h = u16::from_be_bytes([*bytes.get(i + 5)?, *bytes.get(i + 6)?]);
            let w = u16::from_be_bytes([*bytes.get(i + 7)?, *bytes.get(i + 8)?]);
            return Some((u32::from(w), u32::from(h)));
        }
        i += 2 + len;
    }
    None
}

/// Width and height of a PNG (IHDR).
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let w = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
    Some((w, h))
}

/// Pillow's `Image.thumbnail((n, n))` size (data-api.md §7.2): keep the
/// aspect ratio inside the box, never enlarge, round to the closest ratio.
pub fn pillow_thumbnail(w: u32, h: u32, n: u32) -> (u32, u32) {
    if n >= w && n >= h {
        return (w, h);
    }
    let (x, y) = (f64::from(n), f64::from(n));
    let aspect = f64::from(w) / f64::from(h);
    // min(floor, ceil, key=...) keeps the first (floor) on ties; then max 1.
    let pick = |v: f64, key: &dyn Fn(f64) -> f64| -> u32 {
        let (f, c) = (v.floor(), v.ceil());
        let best = if key(c) < key(f) { c } else { f };
        (best as u32).max(1)
    };
    if x / y >= aspect {
        let nx = pick(y * aspect, &|k| (aspect - k / y).abs());
        (nx, n)
    } else {
        let ny = pick(x / aspect, &|k| {
            if k == 0.0 {
                0.0
            } else {
                (aspect - x / k).abs()
            }
        });
        (n, ny)
    }
}

/// One entry of a zip's central directory.
#[derive(Debug, Clone)]
pub struct ZipEntry {
    pub name: String,
    pub method: u16,
    pub crc: u32,
    pub size: u64,
    pub data: Vec<u8>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Reads a zip through its central directory (no ZIP64: test archives are
/// small); the data of stored entries is extracted from the local headers
/// and its CRC checked.
pub fn read_zip(bytes: &[u8]) -> Vec<ZipEntry> {
    let eocd = (0..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(bytes, i) == 0x0605_4b50)
        .expect("end of central directory");
    let count = usize::from(u16_at(bytes, eocd + 10));
    let mut at = u32_at(bytes, eocd + 16) as usize;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(bytes, at), 0x0201_4b50, "central header");
        let method = u16_at(bytes, at + 10);
        let crc = u32_at(bytes, at + 16);
        let csize = u32_at(bytes, at + 20) as usize;
        let size = u64::from(u32_at(bytes, at + 24));
        let nlen = usize::from(u16_at(bytes, at + 28));
        let xlen = usize::from(u16_at(bytes, at + 30));
        let clen = usize::from(u16_at(bytes, at + 32));
        let local = u32_at(bytes, at + 42) as usize;
        let name = String::from_utf8(bytes[at + 46..at + 46 + nlen].to_vec()).unwrap();
        assert_eq!(u32_at(bytes, local), 0x0403_4b50, "local header of {name}");
        let lnlen = usize::from(u16_at(bytes, local + 26));
        let lxlen = usize::from(u16_at(bytes, local + 28));
        let start = local + 30 + lnlen + lxlen;
        let data = bytes[start..start + csize].to_vec();
        if method == 0 {
            assert_eq!(crc32(&data), crc, "CRC of {name}");
            assert_eq!(data.len() as u64, size, "size of {name}");
        }
        out.push(ZipEntry {
            name,
            method,
            crc,
            size,
            data,
        });
        at += 46 + nlen + xlen + clen;
    }
    out
}

/// An ASCII PLY point cloud (x y z, optional colours).
pub fn ply_points(points: &[[f64; 3]]) -> Vec<u8> {
    let mut s = format!(
        "ply\nformat ascii 1.0\nelement vertex {}\nproperty float x\nproperty float y\nproperty float z\nend_header\n",
        points.len()
    );
    for p in points {
        s.push_str(&format!("{} {} {}\n", p[0], p[1], p[2]));
    }
    s.into_bytes()
}

/// An ASCII PLY mesh with polygon faces.
pub fn ply_mesh(vertices: &[[f64; 3]], faces: &[&[u32]]) -> Vec<u8> {
    let mut s = format!(
        "ply\nformat ascii 1.0\nelement vertex {}\nproperty float x\nproperty float y\nproperty float z\nelement face {}\nproperty list uchar int vertex_indices\nend_header\n",
        vertices.len(),
        faces.len()
    );
    for p in vertices {
        s.push_str(&format!("{} {} {}\n", p[0], p[1], p[2]));
    }
    for f in faces {
        s.push_str(&f.len().to_string());
        for i in *f {
            s.push_str(&format!(" {i}"));
        }
        s.push('\n');
    }
    s.into_bytes()
}

/// The header of a PLY (up to `end_header`) and the vertex count.
pub fn ply_header(bytes: &[u8]) -> (String, usize) {
    let end = bytes
        .windows(11)
        .position(|w| w == b"end_header\n")
        .expect("end_header");
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let n = head
        .lines()
        .find_map(|l| l.strip_prefix("element vertex "))
        .expect("element vertex")
        .trim()
        .parse()
        .unwrap();
    (head, n)
}

/// Sets a file's modification time `secs` seconds from now.
pub fn touch_by(path: &Path, secs: i64) {
    let now = std::time::SystemTime::now();
    let t = if secs >= 0 {
        now + std::time::Duration::from_secs(secs as u64)
    } else {
        now - std::time::Duration::from_secs((-secs) as u64)
    };
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

/// Every string of `v` that starts with `/` (URIs), with its JSON path.
pub fn uris(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) if s.starts_with('/') => out.push((at.to_string(), s.clone())),
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                uris(x, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                uris(x, &format!("{at}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn pillow_rule_matches_the_documented_examples() {
    assert_eq!(pillow_thumbnail(1440, 1080, 150), (150, 113));
    assert_eq!(pillow_thumbnail(1440, 1080, 1500), (1440, 1080));
    assert_eq!(pillow_thumbnail(96, 72, 150), (96, 72));
    assert_eq!(pillow_thumbnail(96, 72, 64), (64, 48));
}

#[test]
fn crc32_of_a_known_text() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}
