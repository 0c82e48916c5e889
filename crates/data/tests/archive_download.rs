//! The streaming ZIP writer, read back by the `zip` crate and (when
//! PLANTDB_PYTHON names a python executable) by Python's `zipfile`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use plantdb_data::archive::{scan_entries, write_zip, write_zip_with, zip_size, ZipOptions};
use plantdb_data::DataError;

/// A small scan: several directories, an empty file, a multi-chunk file,
/// a non-ASCII name, and things that must be left out.
fn make_scan(root: &Path) -> Vec<(String, Vec<u8>)> {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let files = vec![
        ("files.json".to_string(), br#"{"filesets": []}"#.to_vec()),
        ("images/00000_rgb.jpg".to_string(), big),
        ("images/empty.txt".to_string(), Vec::new()),
        ("metadata/images/00000_rgb.json".to_string(), b"{}".to_vec()),
        ("metadata/metadata.json".to_string(), b"{\"a\": 1}".to_vec()),
        (
            "notes/caf\u{e9}.txt".to_string(),
            "caf\u{e9}".as_bytes().to_vec(),
        ),
    ];
    for (name, bytes) in &files {
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    fs::create_dir_all(root.join("webcache")).unwrap();
    fs::write(root.join("webcache/x.jpeg"), b"cache").unwrap();
    fs::write(root.join(".hidden"), b"h").unwrap();
    files
}

/// Reads every entry back with the `zip` crate, checking names, bytes,
/// method and CRCs (the crate also verifies each CRC at end of entry).
fn read_back(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
            assert!(!entry.is_dir());
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!(entry.crc32(), crc32fast::hash(&data), "{}", entry.name());
            assert_eq!(entry.size(), data.len() as u64);
            assert_eq!(entry.unix_mode(), Some(0o100_644));
            (entry.name().to_string(), data)
        })
        .collect()
}

/// A writer without `Seek` that takes at most a few bytes per call, like a pipe.
struct Trickle(Vec<u8>);

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(4096);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn round_trips_through_the_zip_crate() {
    let dir = tempfile::tempdir().unwrap();
    let expected = make_scan(dir.path());
    let entries = scan_entries(dir.path(), None).unwrap();
    let mut out = Trickle(Vec::new());
    let n = write_zip(&entries, &mut out).unwrap();
    assert_eq!(n, out.0.len() as u64);
    assert_eq!(n, zip_size(&entries, ZipOptions::default()));
    assert_eq!(read_back(&out.0), expected);
}

#[test]
fn forced_zip64_round_trips_and_has_zip64_records() {
    let dir = tempfile::tempdir().unwrap();
    let expected = make_scan(dir.path());
    let entries = scan_entries(dir.path(), Some("my_scan")).unwrap();
    let options = ZipOptions { force_zip64: true };
    let mut out = Vec::new();
    let n = write_zip_with(&entries, &mut out, options).unwrap();
    assert_eq!(n, zip_size(&entries, options));
    let find = |sig: &[u8]| out.windows(4).any(|w| w == sig);
    assert!(
        find(b"PK\x06\x06") && find(b"PK\x06\x07"),
        "ZIP64 end records"
    );
    let prefixed: Vec<_> = expected
        .into_iter()
        .map(|(name, data)| (format!("my_scan/{name}"), data))
        .collect();
    assert_eq!(read_back(&out), prefixed);
}

#[test]
fn a_file_that_changes_size_or_vanishes_fails_with_io() {
    let dir = tempfile::tempdir().unwrap();
    make_scan(dir.path());
    let entries = scan_entries(dir.path(), None).unwrap();
    fs::write(dir.path().join("images/empty.txt"), b"grown").unwrap();
    let err = write_zip(&entries, Vec::new()).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    fs::write(dir.path().join("images/empty.txt"), b"").unwrap();
    fs::write(dir.path().join("files.json"), b"{}").unwrap();
    assert!(matches!(
        write_zip(&entries, Vec::new()),
        Err(DataError::Io { .. })
    ));
    fs::write(dir.path().join("files.json"), br#"{"filesets": []}"#).unwrap();
    fs::remove_file(dir.path().join("metadata/metadata.json")).unwrap();
    let err = write_zip(&entries, Vec::new()).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert!(!err.to_string().contains(dir.path().to_str().unwrap()));
}

#[test]
fn python_zipfile_reads_both_forms() {
    let Some(python) = std::env::var_os("PLANTDB_PYTHON") else {
        println!("skipped: set PLANTDB_PYTHON to a python executable to run this test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan");
    let expected = make_scan(&scan);
    let entries = scan_entries(&scan, None).unwrap();
    for force_zip64 in [false, true] {
        let zip_path = dir.path().join(format!("out_{force_zip64}.zip"));
        let file = fs::File::create(&zip_path).unwrap();
        write_zip_with(&entries, file, ZipOptions { force_zip64 }).unwrap();
        let script = "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); \
                      assert z.testzip() is None; print(len(z.namelist()))";
        let output = std::process::Command::new(&python)
            .args(["-c", script])
            .arg(&zip_path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let count = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert_eq!(count, expected.len().to_string());
    }
}
