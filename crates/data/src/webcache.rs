//! The preview cache of a scan, `<scan dir>/webcache/` (data-api.md §7.1).
//!
//! File names are Python's (`webcache.py`), so Python and Rust servers share
//! each other's cached previews. Unlike Python, a cache file older than its
//! source is regenerated (P15), and writes are atomic (§1.9): a reader never
//! sees a half-written preview, even when two requests generate the same one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::DataError;

/// What a preview is made from; part of the cache file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewKind {
    Image,
    PointCloud,
    /// Kept for name compatibility; the mesh preview itself is unreachable (§7.4).
    Mesh,
}

impl PreviewKind {
    /// The kind as Python spells it in the hashed text.
    pub fn as_str(self) -> &'static str {
        match self {
            PreviewKind::Image => "image",
            PreviewKind::PointCloud => "pointcloud",
            PreviewKind::Mesh => "mesh",
        }
    }

    /// The cache file's extension, with its dot.
    pub fn extension(self) -> &'static str {
        match self {
            PreviewKind::Image => ".jpeg",
            PreviewKind::PointCloud | PreviewKind::Mesh => ".ply",
        }
    }
}

/// The cache file name: lower-case hex SHA-1 of
/// `<kind>|<scan>|<fileset>|<file>|<size>` plus the kind's extension.
pub fn cache_file_name(
    kind: PreviewKind,
    scan_id: &str,
    fileset_id: &str,
    file_id: &str,
    size_text: &str,
) -> String {
    let text = format!(
        "{}|{scan_id}|{fileset_id}|{file_id}|{size_text}",
        kind.as_str()
    );
    let digest = sha1_smol::Sha1::from(text.as_bytes()).digest();
    format!("{digest}{}", kind.extension())
}

/// Python's `repr(float)`: the shortest text that reads back as `v`, fixed
/// notation with at least one decimal (`2.0`, `0.0001`) when the decimal
/// exponent is in -4..16, else scientific with a signed two-digit exponent
/// (`1e-05`, `1e+16`). `nan`, `inf`, `-inf` for non-finite values.
pub fn python_float_repr(v: f64) -> String {
    let mut out = String::new();
    push_python_float_repr(&mut out, v);
    out
}

/// [`python_float_repr`] appended to `out` (no allocation beyond `out`'s).
pub fn push_python_float_repr(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("nan");
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    let v = v.abs();
    if v.is_infinite() {
        out.push_str("inf");
        return;
    }
    if v == 0.0 {
        out.push_str("0.0");
        return;
    }
    // Ryu gives Python's digits: the shortest that round-trip, ties to
    // even. (Rust's own `{:e}` breaks exact ties upwards: 1.6 % of f32
    // values widened to f64 would differ.) Its layout is not Python's.
    let mut buffer = ryu::Buffer::new();
    let (digits, decpt) = shortest_digits(buffer.format_finite(v));
    let digits = digits.as_str();
    if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at_checked(1).unwrap_or((digits, ""));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exp = decpt - 1;
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.unsigned_abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
        out.push_str(digits);
    } else {
        let decpt = decpt.unsigned_abs() as usize;
        if decpt >= digits.len() {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', decpt - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt]);
            out.push('.');
            out.push_str(&digits[decpt..]);
        }
    }
}

/// The significant digits of a positive number written as `I.FeX` (`.F`
/// and `eX` optional), and the position of the decimal point: the value is
/// `0.<digits> × 10^decpt`. Digits land in a stack buffer: no allocation.
fn shortest_digits(text: &str) -> (Digits, i32) {
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = Digits::default();
    let mut decpt = int.len() as i32 + exp;
    for b in int.bytes().chain(frac.bytes()) {
        if digits.len == 0 && b == b'0' {
            decpt -= 1; // a leading zero
        } else if let Some(slot) = digits.buf.get_mut(digits.len) {
            *slot = b;
            digits.len += 1;
        }
    }
    while digits.len > 0 && digits.buf[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    (digits, decpt)
}

/// Up to 32 ASCII digits (ryu writes at most 17).
#[derive(Default)]
struct Digits {
    buf: [u8; 32],
    len: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Where a preview is to be served from.
#[derive(Debug, PartialEq, Eq)]
pub enum CachedPreview {
    /// A complete cache file.
    File(PathBuf),
    /// Generated bytes that could not be cached (directory not writable).
    Bytes(Vec<u8>),
}

/// A preview and whether it came from the cache (callers rate-limit misses).
#[derive(Debug, PartialEq, Eq)]
pub struct CacheOutcome {
    pub preview: CachedPreview,
    pub hit: bool,
}

/// The cache file `<webcache_dir>/<name>` if it exists and is not older than
/// `source`. A missing or unreadable cache entry is a miss; a source that
/// cannot be examined is an error.
pub fn lookup(
    webcache_dir: &Path,
    name: &str,
    source: &Path,
) -> Result<Option<PathBuf>, DataError> {
    check_name(name)?;
    let source_mtime = fs::metadata(source)
        .map_err(|e| DataError::io("cannot examine the source of a preview", e))?
        .modified()
        .ok();
    let path = webcache_dir.join(name);
    let Ok(meta) = fs::metadata(&path) else {
        return Ok(None);
    };
    let fresh = match (meta.modified(), source_mtime) {
        (Ok(cached), Some(source)) => cached >= source,
        _ => false,
    };
    Ok((meta.is_file() && fresh).then_some(path))
}

/// Writes `bytes` atomically as `<webcache_dir>/<name>` (creating the
/// directory, not its parents) and returns the file; when that fails (e.g.
/// the directory is read-only) logs why and hands the bytes back instead.
/// The file's mtime is raised to `source`'s if the source is in the future,
/// so that [`lookup`] sees it as fresh.
pub fn store(
    webcache_dir: &Path,
    name: &str,
    bytes: Vec<u8>,
    source: &Path,
) -> Result<CachedPreview, DataError> {
    check_name(name)?;
    let not_before = fs::metadata(source).and_then(|m| m.modified()).ok();
    match write_atomically(webcache_dir, name, &bytes, not_before) {
        Ok(path) => Ok(CachedPreview::File(path)),
        Err(error) => {
            tracing::warn!(
                dir = %webcache_dir.display(),
                name,
                %error,
                "preview not cached; serving it from memory"
            );
            Ok(CachedPreview::Bytes(bytes))
        }
    }
}

/// [`lookup`], and on a miss `generate` then [`store`].
pub fn cached_or_generate(
    webcache_dir: &Path,
    name: &str,
    source: &Path,
    generate: impl FnOnce() -> Result<Vec<u8>, DataError>,
) -> Result<CacheOutcome, DataError> {
    if let Some(path) = lookup(webcache_dir, name, source)? {
        return Ok(CacheOutcome {
            preview: CachedPreview::File(path),
            hit: true,
        });
    }
    let bytes = generate()?;
    Ok(CacheOutcome {
        preview: store(webcache_dir, name, bytes, source)?,
        hit: false,
    })
}

/// Cache names are ours (hex + extension); refuse anything that could leave
/// the directory or hide in it.
fn check_name(name: &str) -> Result<(), DataError> {
    let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(())
    } else {
        Err(DataError::invalid("invalid preview cache name"))
    }
}

/// §1.9: hidden temporary in the same directory, fsync, rename, fsync dir.
fn write_atomically(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    not_before: Option<SystemTime>,
) -> io::Result<PathBuf> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let target = dir.join(name);
    let result = write_then_rename(&tmp, &target, bytes, not_before);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // The rename is durable once the directory is synced; not every
    // filesystem allows syncing a directory, and the file is complete anyway.
    if let Err(error) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(%error, "could not fsync the webcache directory");
    }
    Ok(target)
}

fn write_then_rename(
    tmp: &Path,
    target: &Path,
    bytes: &[u8],
    not_before: Option<SystemTime>,
) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(tmp)?;
    file.write_all(bytes)?;
    if let Some(source_mtime) = not_before {
        if file.metadata()?.modified()? < source_mtime {
            file.set_modified(source_mtime)?;
        }
    }
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, target)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn live_name_vectors() {
        let b2 = "arabidopsis_B2";
        let img = PreviewKind::Image;
        assert_eq!(
            cache_file_name(img, b2, "images", "00000_rgb", "thumb"),
            "31d49ae2974ec50a0e02e3757197fe287b233971.jpeg"
        );
        assert_eq!(
            cache_file_name(img, b2, "images", "00001_rgb", "large"),
            "3c2c4f39084221a1ee432c166ef52877b3fc0074.jpeg"
        );
        assert_eq!(
            cache_file_name(img, b2, "images", "00001_rgb", "64"),
            "a59e1238637180abecfdfb75db2679bf89e09251.jpeg"
        );
        let fs = "PointCloud_1_0_1_0_False_4ce2e46446";
        let pc = PreviewKind::PointCloud;
        assert_eq!(
            cache_file_name(pc, b2, fs, "PointCloud", "preview"),
            "b365d3074bd97f3fbb68a62adc71916948501548.ply"
        );
        assert_eq!(
            cache_file_name(pc, b2, fs, "PointCloud", &python_float_repr(2.0)),
            "e95d429a2be9d569aea693306387884e457534db.ply"
        );
        assert!(cache_file_name(PreviewKind::Mesh, b2, "m", "f", "preview").ends_with(".ply"));
    }

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (2.0, "2.0"),
            (1.8, "1.8"),
            (0.5, "0.5"),
            (0.01, "0.01"),
            (1000.0, "1000.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e22, "1.2345e+22"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            // Exact decimal ties at 17 digits go to even, as in Python.
            (251268343567354.12, "251268343567354.12"),
            (-3.5731582641601562, "-3.5731582641601562"),
            (f64::from(226.83316_f32), "226.83316040039062"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, want) in cases {
            assert_eq!(python_float_repr(v), want, "{v:e}");
        }
    }

    fn source_in(dir: &Path) -> PathBuf {
        let source = dir.join("source.png");
        fs::write(&source, b"src").unwrap();
        source
    }

    #[test]
    fn miss_then_hit_then_stale() {
        let root = tempfile::tempdir().unwrap();
        let source = source_in(root.path());
        let cache = root.path().join("webcache");
        let name = "abc.jpeg";

        let first = cached_or_generate(&cache, name, &source, || Ok(b"one".to_vec())).unwrap();
        assert!(!first.hit);
        assert_eq!(first.preview, CachedPreview::File(cache.join(name)));
        assert_eq!(fs::read(cache.join(name)).unwrap(), b"one");
        let leftovers: Vec<_> = fs::read_dir(&cache).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary left behind");

        let second = cached_or_generate(&cache, name, &source, || panic!("must hit")).unwrap();
        assert!(second.hit);

        // The source changes after the cache was written: regenerate.
        let later = SystemTime::now() + Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&source)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let third = cached_or_generate(&cache, name, &source, || Ok(b"two".to_vec())).unwrap();
        assert!(!third.hit);
        assert_eq!(fs::read(cache.join(name)).unwrap(), b"two");
        // Its mtime was raised to the (future) source's, so it is now fresh.
        assert!(lookup(&cache, name, &source).unwrap().is_some());
    }

    #[test]
    fn generation_error_propagates_and_writes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let source = source_in(root.path());
        let cache = root.path().join("webcache");
        let err = cached_or_generate(&cache, "x.ply", &source, || {
            Err(DataError::invalid("not a readable PLY file"))
        })
        .unwrap_err();
        assert!(matches!(err, DataError::InvalidInput(_)));
        assert!(!cache.join("x.ply").exists());
    }

    #[test]
    fn unwritable_directory_serves_bytes() {
        let root = tempfile::tempdir().unwrap();
        let source = source_in(root.path());
        // A regular file where the directory should be: cannot be created.
        let cache = root.path().join("webcache");
        fs::write(&cache, b"").unwrap();
        let out = cached_or_generate(&cache, "a.jpeg", &source, || Ok(vec![1, 2])).unwrap();
        assert_eq!(out.preview, CachedPreview::Bytes(vec![1, 2]));
        assert!(!out.hit);
    }

    #[test]
    fn missing_source_is_an_error_and_bad_names_refused() {
        let root = tempfile::tempdir().unwrap();
        let cache = root.path().join("webcache");
        let gone = root.path().join("gone");
        assert!(matches!(
            lookup(&cache, "a.jpeg", &gone),
            Err(DataError::Io { .. })
        ));
        let source = source_in(root.path());
        for bad in ["", ".hidden", "../x", "a/b"] {
            assert!(matches!(
                lookup(&cache, bad, &source),
                Err(DataError::InvalidInput(_))
            ));
        }
    }

    #[test]
    fn concurrent_generation_never_tears() {
        let root = tempfile::tempdir().unwrap();
        let source = source_in(root.path());
        let cache = root.path().join("webcache");
        fs::create_dir(&cache).unwrap();
        let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 64 * 1024]).collect();
        std::thread::scope(|s| {
            for p in &payloads {
                let (cache, source) = (&cache, &source);
                s.spawn(move || store(cache, "same.ply", p.clone(), source).unwrap());
            }
        });
        let got = fs::read(cache.join("same.ply")).unwrap();
        assert!(payloads.contains(&got), "a whole payload, never a mix");
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);
    }
}
