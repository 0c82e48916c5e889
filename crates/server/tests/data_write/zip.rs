//! A minimal ZIP writer (stored entries only), with knobs to build hostile
//! archives: any name bytes, Unix modes (symlinks), the encryption flag,
//! a wrong CRC, a lying uncompressed size.

/// One member of an archive.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// Unix mode in the external attributes (`0o120777` = symlink).
    pub mode: Option<u32>,
    /// General-purpose flags (bit 0: encrypted).
    pub flags: u16,
    pub crc: Option<u32>,
    /// The uncompressed size the headers declare (default: the real one).
    pub declared_size: Option<u32>,
}

impl Entry {
    pub fn file(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            mode: Some(0o100644),
            flags: 0,
            crc: None,
            declared_size: None,
        }
    }

    pub fn dir(name: &str) -> Entry {
        Entry {
            mode: Some(0o040755),
            ..Entry::file(name, b"")
        }
    }

    pub fn raw_name(name: &[u8], data: &[u8]) -> Entry {
        Entry {
            name: name.to_vec(),
            ..Entry::file("x", data)
        }
    }

    pub fn symlink(name: &str, target: &str) -> Entry {
        Entry {
            mode: Some(0o120777),
            ..Entry::file(name, target.as_bytes())
        }
    }
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The archive's bytes.
pub fn build(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
        let size = e.data.len() as u32;
        let usize_ = e.declared_size.unwrap_or(size);
        let name_len = e.name.len() as u16;
        // Local header.
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, 20);
        u16le(&mut out, e.flags);
        u16le(&mut out, 0); // stored
        u16le(&mut out, 0x6000); // 12:00
        u16le(&mut out, 0x5a21); // 2025-01-01
        u32le(&mut out, crc);
        u32le(&mut out, size);
        u32le(&mut out, usize_);
        u16le(&mut out, name_len);
        u16le(&mut out, 0);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
        // Central directory header.
        u32le(&mut central, 0x0201_4b50);
        u16le(&mut central, (3 << 8) | 20); // made by Unix
        u16le(&mut central, 20);
        u16le(&mut central, e.flags);
        u16le(&mut central, 0);
        u16le(&mut central, 0x6000);
        u16le(&mut central, 0x5a21);
        u32le(&mut central, crc);
        u32le(&mut central, size);
        u32le(&mut central, usize_);
        u16le(&mut central, name_len);
        u16le(&mut central, 0); // extra
        u16le(&mut central, 0); // comment
        u16le(&mut central, 0); // disk
        u16le(&mut central, 0); // internal attributes
        let dos_dir = if e.name.ends_with(b"/") { 0x10 } else { 0 };
        u32le(&mut central, (e.mode.unwrap_or(0) << 16) | dos_dir);
        u32le(&mut central, offset);
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, entries.len() as u16);
    u16le(&mut out, entries.len() as u16);
    u32le(&mut out, cd_size);
    u32le(&mut out, cd_offset);
    u16le(&mut out, 0);
    out
}

/// The members of a valid scan archive (no top directory): an `images`
/// fileset with one file, scan metadata claiming `owner` and `sharing`.
pub fn scan_entries(metadata: &serde_json::Value) -> Vec<Entry> {
    let files_json = serde_json::json!({"filesets": [
        {"id": "images", "files": [{"id": "img0", "file": "img0.jpg"}]}
    ]});
    vec![
        Entry::file(
            "files.json",
            serde_json::to_string(&files_json).unwrap().as_bytes(),
        ),
        Entry::dir("images/"),
        Entry::file("images/img0.jpg", &image_bytes()),
        Entry::dir("metadata/"),
        Entry::file(
            "metadata/metadata.json",
            serde_json::to_string(metadata).unwrap().as_bytes(),
        ),
        Entry::file("metadata/images.json", b"{\"fs\": 1}"),
        Entry::dir("metadata/images/"),
        Entry::file("metadata/images/img0.json", b"{\"shot\": 0}"),
    ]
}

/// The bytes of `images/img0.jpg` in [`scan_entries`] (not a real image).
pub fn image_bytes() -> Vec<u8> {
    (0u8..=255).rev().collect()
}

/// A valid scan archive.
pub fn scan_archive(metadata: &serde_json::Value) -> Vec<u8> {
    build(&scan_entries(metadata))
}

#[test]
fn crc32_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}
