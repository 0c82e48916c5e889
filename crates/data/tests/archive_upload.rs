//! Checking and extracting uploaded scan archives (data-api.md §8.2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use plantdb_data::archive::{
    extract_scan_archive, scan_entries, write_zip, ArchiveEntry, ArchiveLimits,
};
use plantdb_data::DataError;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const SCAN: &[(&str, &[u8])] = &[
    (
        "files.json",
        br#"{"filesets": [{"files": [], "id": "images"}]}"#,
    ),
    ("images/00000_rgb.jpg", b"jpeg bytes"),
    ("metadata/metadata.json", b"{}"),
    ("metadata/images/00000_rgb.json", b"{\"channel\": \"rgb\"}"),
];

/// An archive made with the `zip` crate; names ending in `/` are directories.
fn zip_of(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        if let Some(dir) = name.strip_suffix('/') {
            writer.add_directory(dir, options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

/// An archive with arbitrary names, written by our own writer.
fn raw_zip_of(dir: &Path, entries: &[(&str, &[u8])]) -> Vec<u8> {
    let list: Vec<ArchiveEntry> = entries
        .iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            let path = dir.join(format!("src{i}"));
            fs::write(&path, bytes).unwrap();
            ArchiveEntry {
                name: name.to_string(),
                path,
                size: bytes.len() as u64,
                modified: None,
            }
        })
        .collect();
    let mut out = Vec::new();
    write_zip(&list, &mut out).unwrap();
    out
}

struct Upload {
    _dir: tempfile::TempDir,
    root: PathBuf,
    zip: PathBuf,
    staging: PathBuf,
}

fn upload(bytes: &[u8]) -> Upload {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let zip = root.join("upload.zip");
    fs::write(&zip, bytes).unwrap();
    let staging = root.join(".staging");
    fs::create_dir(&staging).unwrap();
    Upload {
        _dir: dir,
        root,
        zip,
        staging,
    }
}

fn extract(up: &Upload, limits: &ArchiveLimits) -> Result<Vec<String>, DataError> {
    extract_scan_archive(&up.zip, &up.staging, limits)
}

fn root_listing(up: &Upload) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(&up.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn tree_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                tree_size(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

fn invalid(result: Result<Vec<String>, DataError>) -> String {
    match result {
        Err(DataError::InvalidInput(msg)) => msg,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn a_deflated_archive_with_a_top_directory_is_extracted_stripped() {
    let mut entries: Vec<(String, &[u8])> = vec![
        ("scan/".into(), b""),
        ("scan/images/".into(), b""),
        ("scan/metadata/".into(), b""),
    ];
    entries.extend(SCAN.iter().map(|(n, b)| (format!("scan/{n}"), *b)));
    entries.push(("scan/webcache/abc.jpeg".into(), b"cache"));
    entries.push(("scan/images/.DS_Store".into(), b"junk"));
    entries.push(("scan/.git/HEAD".into(), b"junk"));
    let named: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let up = upload(&zip_of(&named, CompressionMethod::Deflated));
    let files = extract(&up, &ArchiveLimits::default()).unwrap();
    let expected: Vec<&str> = SCAN.iter().map(|(n, _)| *n).collect();
    assert_eq!(files, expected);
    for (name, bytes) in SCAN {
        assert_eq!(fs::read(up.staging.join(name)).unwrap(), *bytes);
    }
    assert!(!up.staging.join("webcache").exists());
    assert!(!up.staging.join("images/.DS_Store").exists());
    assert!(!up.staging.join(".git").exists());
}

#[test]
fn our_own_download_extracts_back_to_the_same_scan() {
    let src = tempfile::tempdir().unwrap();
    for (name, bytes) in SCAN {
        let path = src.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    for prefix in [None, Some("scan_id")] {
        let mut zip = Vec::new();
        write_zip(&scan_entries(src.path(), prefix).unwrap(), &mut zip).unwrap();
        let up = upload(&zip);
        let mut files = extract(&up, &ArchiveLimits::default()).unwrap();
        files.sort();
        let mut expected: Vec<&str> = SCAN.iter().map(|(n, _)| *n).collect();
        expected.sort();
        assert_eq!(files, expected);
    }
}

#[test]
fn dangerous_names_are_refused() {
    for bad in [
        "../evil",
        "/abs/x",
        "images\\x.jpg",
        "images/../../x",
        "nul\0x",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut entries = SCAN.to_vec();
        entries.push((bad, b"x"));
        let up = upload(&raw_zip_of(dir.path(), &entries));
        let msg = invalid(extract(&up, &ArchiveLimits::default()));
        assert!(!msg.contains(up.root.to_str().unwrap()), "{msg}");
        assert_eq!(root_listing(&up), [".staging", "upload.zip"]);
    }
}

#[test]
fn symlink_entries_are_refused() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for (name, bytes) in SCAN {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer
        .add_symlink("images/link.jpg", "/etc/passwd", options)
        .unwrap();
    let up = upload(&writer.finish().unwrap().into_inner());
    assert!(invalid(extract(&up, &ArchiveLimits::default())).contains("symbolic link"));
}

/// Sets `bit` in the general-purpose flags of every local and central header.
fn set_flag(bytes: &mut [u8], bit: u16) {
    for i in 0..bytes.len().saturating_sub(4) {
        let at = match &bytes[i..i + 4] {
            b"PK\x03\x04" => i + 6,
            b"PK\x01\x02" => i + 8,
            _ => continue,
        };
        let flags = u16::from_le_bytes([bytes[at], bytes[at + 1]]) | bit;
        bytes[at..at + 2].copy_from_slice(&flags.to_le_bytes());
    }
}

#[test]
fn encrypted_entries_are_refused() {
    let mut zip = zip_of(SCAN, CompressionMethod::Stored);
    set_flag(&mut zip, 1);
    let up = upload(&zip);
    assert!(invalid(extract(&up, &ArchiveLimits::default())).contains("encrypted"));
}

#[test]
fn a_corrupted_entry_fails_its_crc_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = SCAN.to_vec();
    entries.push(("images/marked.txt", b"UNIQUE-MARKER-0123456789"));
    let mut zip = raw_zip_of(dir.path(), &entries);
    let at = zip.windows(13).position(|w| w == b"UNIQUE-MARKER").unwrap();
    zip[at] = b'X';
    let up = upload(&zip);
    let msg = invalid(extract(&up, &ArchiveLimits::default()));
    assert!(
        msg.contains("images/marked.txt") && msg.contains("CRC"),
        "{msg}"
    );
}

#[test]
fn the_structure_check_explains_what_is_expected() {
    let up = upload(&zip_of(&SCAN[1..], CompressionMethod::Deflated));
    let msg = invalid(extract(&up, &ArchiveLimits::default()));
    assert!(
        msg.starts_with("Invalid scan dataset archive structure"),
        "{msg}"
    );
    assert!(msg.contains("files.json") && msg.contains("images/") && msg.contains("metadata/"));
}

#[test]
fn files_json_must_be_a_scan_index() {
    for bad in [&b"[]"[..], b"{\"files\": []}", b"not json"] {
        let mut entries = SCAN.to_vec();
        entries[0] = ("files.json", bad);
        let up = upload(&zip_of(&entries, CompressionMethod::Stored));
        assert!(invalid(extract(&up, &ArchiveLimits::default())).contains("filesets"));
    }
}

#[test]
fn a_file_that_is_not_a_zip_is_invalid_input() {
    let up = upload(b"this is not a zip file at all, just text");
    assert!(invalid(extract(&up, &ArchiveLimits::default())).contains("Invalid ZIP archive"));
}

#[test]
fn entry_count_and_declared_size_are_capped() {
    let up = upload(&zip_of(SCAN, CompressionMethod::Deflated));
    let few = ArchiveLimits {
        max_entries: 3,
        max_expanded: 1 << 20,
    };
    assert!(matches!(extract(&up, &few), Err(DataError::TooLarge(_))));
    let small = ArchiveLimits {
        max_entries: 100,
        max_expanded: 20,
    };
    assert!(matches!(extract(&up, &small), Err(DataError::TooLarge(_))));
    assert_eq!(tree_size(&up.staging), 0);
}

/// A deflated entry of 4 MiB of zeros whose headers claim 10 bytes.
fn lying_bomb() -> Vec<u8> {
    let zeros = vec![0u8; 4 << 20];
    let mut entries = SCAN.to_vec();
    entries.push(("images/bomb.bin", &zeros));
    let mut zip = zip_of(&entries, CompressionMethod::Deflated);
    let name = b"images/bomb.bin";
    for i in 0..zip.len() - 4 {
        let (size_at, name_at) = match &zip[i..i + 4] {
            b"PK\x03\x04" => (i + 22, i + 30),
            b"PK\x01\x02" => (i + 24, i + 46),
            _ => continue,
        };
        if zip.get(name_at..name_at + name.len()) == Some(&name[..]) {
            zip[size_at..size_at + 4].copy_from_slice(&10u32.to_le_bytes());
        }
    }
    zip
}

#[test]
fn a_lying_header_cannot_expand_past_the_limit() {
    let up = upload(&lying_bomb());
    let limits = ArchiveLimits {
        max_entries: 100,
        max_expanded: 1 << 20,
    };
    assert!(matches!(extract(&up, &limits), Err(DataError::TooLarge(_))));
    assert!(tree_size(&up.staging) <= 1 << 20);
    assert_eq!(root_listing(&up), [".staging", "upload.zip"]);
}

#[test]
fn a_lying_header_within_the_limit_is_still_refused() {
    let up = upload(&lying_bomb());
    let msg = invalid(extract(&up, &ArchiveLimits::default()));
    assert!(msg.contains("size"), "{msg}");
}
