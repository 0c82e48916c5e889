//! Checking and extracting an uploaded scan archive (data-api.md §8.2,
//! our steps 3-5). The caller streams the upload to a hidden file, creates
//! a hidden staging directory, calls [`extract_scan_archive`], rewrites the
//! metadata (step 6) and renames the staging directory into place; on error
//! it deletes the staging directory. Nothing is written outside it.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use zip::{CompressionMethod, ZipArchive};

use super::structure::{check_structure, ArchiveLayout};
use crate::ids::printable;
use crate::DataError;

const CHUNK: usize = 64 * 1024;
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
/// `files.json` of a 100 000-image scan is a few MiB; this bounds the parse.
const MAX_FILES_JSON: u64 = 256 * 1024 * 1024;

/// Limits on what an archive may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most entries (files and directories) in the archive.
    pub max_entries: u64,
    /// Most bytes of all entries once expanded.
    pub max_expanded: u64,
}

impl ArchiveLimits {
    /// The default entry cap and 4 × the upload limit (§8.2 step 3).
    pub fn for_upload_limit(max_upload: u64) -> Self {
        ArchiveLimits {
            max_entries: 100_000,
            max_expanded: max_upload.saturating_mul(4),
        }
    }
}

impl Default for ArchiveLimits {
    /// For the default upload limit of 8 GiB.
    fn default() -> Self {
        Self::for_upload_limit(8 << 30)
    }
}

/// An archive member that passed the name and type checks.
struct Member {
    index: usize,
    name: String,
    is_dir: bool,
    size: u64,
    crc: u32,
}

/// Checks the archive at `zip_path` and extracts it into `staging_dir` (an
/// existing, empty directory). Returns the extracted files' paths relative
/// to the scan, in archive order. Errors: a bad archive, name or structure
/// → [`DataError::InvalidInput`]; over a limit → [`DataError::TooLarge`].
pub fn extract_scan_archive(
    zip_path: &Path,
    staging_dir: &Path,
    limits: &ArchiveLimits,
) -> Result<Vec<String>, DataError> {
    let mut file = File::open(zip_path)
        .map_err(|e| DataError::io("Could not open the uploaded archive", e))?;
    if declared_entries(&mut file).is_some_and(|n| n > limits.max_entries) {
        return Err(too_many_entries(limits));
    }
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(|_| {
        DataError::invalid("Invalid ZIP archive: the upload is not a readable ZIP file")
    })?;
    if archive.len() as u64 > limits.max_entries {
        return Err(too_many_entries(limits));
    }
    let members = inspect(&mut archive, limits)?;
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let layout = check_structure(&names)?;
    let plan = plan(&members, &layout)?;
    let mut extracted = Vec::new();
    let mut budget = limits.max_expanded;
    for (member, target) in plan {
        let path = staging_dir.join(&target);
        if member.is_dir {
            fs::create_dir_all(&path)
                .map_err(|e| DataError::io("Could not extract the archive", e))?;
        } else {
            extract_one(&mut archive, member, &path, &mut budget, limits)?;
            extracted.push(target);
        }
    }
    fs::create_dir_all(staging_dir.join("metadata"))
        .map_err(|e| DataError::io("Could not extract the archive", e))?;
    check_files_json(&staging_dir.join("files.json"))?;
    Ok(extracted)
}

fn too_many_entries(limits: &ArchiveLimits) -> DataError {
    DataError::TooLarge(format!(
        "The archive holds more than {} entries",
        limits.max_entries
    ))
}

fn too_large(limits: &ArchiveLimits) -> DataError {
    DataError::TooLarge(format!(
        "The archive expands to more than {} bytes",
        limits.max_expanded
    ))
}

/// Reads every member's header: names, types, methods, declared sizes.
fn inspect<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    limits: &ArchiveLimits,
) -> Result<Vec<Member>, DataError> {
    let mut members = Vec::with_capacity(archive.len());
    let mut declared = 0u64;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|_| DataError::invalid("Invalid ZIP archive: an entry cannot be read"))?;
        let name = checked_name(entry.name_raw())?;
        if entry.encrypted() {
            return Err(entry_error(&name, "is encrypted"));
        }
        if entry.unix_mode().is_some_and(|m| m & S_IFMT == S_IFLNK) {
            return Err(entry_error(&name, "is a symbolic link"));
        }
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(entry_error(
                &name,
                "uses a compression method other than stored or deflate",
            ));
        }
        declared = declared.saturating_add(entry.size());
        if declared > limits.max_expanded {
            return Err(too_large(limits));
        }
        members.push(Member {
            index,
            is_dir: name.ends_with('/'),
            size: entry.size(),
            crc: entry.crc32(),
            name,
        });
    }
    Ok(members)
}

fn entry_error(name: &str, what: &str) -> DataError {
    DataError::InvalidInput(format!("Archive entry '{}' {what}", printable(name)))
}

/// A member name we accept: UTF-8, relative, `/`-separated, no `..`.
fn checked_name(raw: &[u8]) -> Result<String, DataError> {
    let name = std::str::from_utf8(raw)
        .map_err(|_| DataError::invalid("An archive entry name is not valid UTF-8"))?;
    let bad = |what: &str| Err(entry_error(name, what));
    if name.is_empty() {
        return bad("has an empty name");
    }
    if name.contains('\0') || name.contains('\\') {
        return bad("has a NUL or backslash in its name");
    }
    let drive =
        name.len() >= 2 && name.as_bytes()[1] == b':' && name.as_bytes()[0].is_ascii_alphabetic();
    if name.starts_with('/') || drive {
        return bad("has an absolute name");
    }
    let body = name.strip_suffix('/').unwrap_or(name);
    for part in body.split('/') {
        if part == ".." {
            return bad("has a '..' component");
        }
        if part.is_empty() {
            return bad("has an empty path component");
        }
    }
    Ok(name.to_string())
}

/// The members to extract with their targets relative to the scan: the top
/// directory stripped, hidden members, `webcache/` and members outside the
/// top directory skipped. A target both a file and a directory is refused.
fn plan<'a>(
    members: &'a [Member],
    layout: &ArchiveLayout,
) -> Result<Vec<(&'a Member, String)>, DataError> {
    let mut plan = Vec::new();
    let mut files = HashSet::new();
    let mut dirs = HashSet::new();
    for member in members {
        let name = match &layout.top_dir {
            Some(top) => match member.name.strip_prefix(top.as_str()) {
                Some(rest) => rest,
                None => {
                    tracing::debug!("archive upload: skipping a member outside the top directory");
                    continue;
                }
            },
            None => member.name.as_str(),
        };
        let target = name.trim_end_matches('/');
        let mut parts = target.split('/');
        let first = parts.clone().next().unwrap_or("");
        if target.is_empty() || first == "webcache" || parts.any(|p| p.starts_with('.')) {
            continue;
        }
        let mut parent = target;
        while let Some((up, _)) = parent.rsplit_once('/') {
            dirs.insert(up.to_string());
            parent = up;
        }
        if member.is_dir {
            dirs.insert(target.to_string());
        } else if !files.insert(target.to_string()) {
            return Err(entry_error(&member.name, "appears twice"));
        }
        plan.push((member, target.to_string()));
    }
    if let Some(clash) = files.iter().find(|f| dirs.contains(*f)) {
        return Err(entry_error(clash, "is both a file and a directory"));
    }
    Ok(plan)
}

/// Extracts one file, checking the byte budget as it goes, then its size and CRC.
fn extract_one<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    member: &Member,
    path: &Path,
    budget: &mut u64,
    limits: &ArchiveLimits,
) -> Result<(), DataError> {
    let write_err = |e| DataError::io("Could not extract the archive", e);
    let mut reader = archive
        .by_index(member.index)
        .map_err(|_| entry_error(&member.name, "cannot be read"))?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(write_err)?;
    }
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(write_err)?;
    let mut buf = vec![0u8; CHUNK];
    let mut crc = crc32fast::Hasher::new();
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&member.name, e)),
        };
        let n64 = n as u64;
        if n64 > *budget {
            return Err(too_large(limits));
        }
        *budget -= n64;
        written += n64;
        crc.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(write_err)?;
    }
    if written != member.size {
        return Err(entry_error(
            &member.name,
            "does not have the size its header declares",
        ));
    }
    if crc.finalize() != member.crc {
        return Err(entry_error(&member.name, "is corrupt (CRC mismatch)"));
    }
    out.sync_all().map_err(write_err)
}

/// Corrupt or truncated data is the archive's fault; anything else ours.
fn read_error(name: &str, e: io::Error) -> DataError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput => {
            entry_error(name, "is corrupt (bad data or CRC mismatch)")
        }
        _ => DataError::io("Could not read the uploaded archive", e),
    }
}

/// The extracted `files.json` must make a scan (§1.1): an object with `filesets`.
fn check_files_json(path: &Path) -> Result<(), DataError> {
    let bad = || {
        DataError::invalid("The archive's files.json must be a JSON object with a \"filesets\" key")
    };
    let meta = fs::metadata(path).map_err(|_| bad())?;
    if !meta.is_file() || meta.len() > MAX_FILES_JSON {
        return Err(bad());
    }
    let text =
        fs::read(path).map_err(|e| DataError::io("Could not read the extracted files.json", e))?;
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|_| bad())?;
    match value.get("filesets") {
        Some(_) if value.is_object() => Ok(()),
        _ => Err(bad()),
    }
}

/// The entry count the end-of-central-directory records declare, read
/// before the `zip` crate parses (and allocates for) the whole directory.
/// `None` when the records cannot be found: the crate then decides.
fn declared_entries(file: &mut File) -> Option<u64> {
    const END_LEN: u64 = 22;
    let len = file.metadata().ok()?.len();
    let tail_len = len.min(END_LEN + 0xFFFF);
    let start = len - tail_len;
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = vec![0u8; usize::try_from(tail_len).ok()?];
    file.read_exact(&mut tail).ok()?;
    let end = (0..=tail.len().checked_sub(END_LEN as usize)?)
        .rev()
        .find(|&i| {
            let comment = usize::from(u16::from_le_bytes([tail[i + 20], tail[i + 21]]));
            tail[i..].starts_with(b"PK\x05\x06") && i + END_LEN as usize + comment <= tail.len()
        })?;
    let entries = u16::from_le_bytes([tail[end + 10], tail[end + 11]]);
    if entries != u16::MAX {
        return Some(u64::from(entries));
    }
    let locator = end.checked_sub(20)?;
    if !tail[locator..].starts_with(b"PK\x06\x07") {
        return Some(u64::from(entries));
    }
    let record = u64::from_le_bytes(tail[locator + 8..locator + 16].try_into().ok()?);
    file.seek(SeekFrom::Start(record)).ok()?;
    let mut head = [0u8; 40];
    file.read_exact(&mut head).ok()?;
    if !head.starts_with(b"PK\x06\x06") {
        return None;
    }
    Some(u64::from_le_bytes(head[32..40].try_into().ok()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(checked_name(b"images/00000_rgb.jpg").is_ok());
        assert!(checked_name(b"scan/").is_ok());
        for bad in [
            &b"/etc/passwd"[..],
            b"C:/x",
            b"a\\b",
            b"a\0b",
            b"images/../../x",
            b"..",
            b"a//b",
            b"",
            b"caf\xe9.jpg",
        ] {
            assert!(
                matches!(checked_name(bad), Err(DataError::InvalidInput(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn default_limits_follow_the_upload_limit() {
        let limits = ArchiveLimits::default();
        assert_eq!(limits.max_entries, 100_000);
        assert_eq!(limits.max_expanded, 32 << 30);
        assert_eq!(
            ArchiveLimits::for_upload_limit(u64::MAX).max_expanded,
            u64::MAX
        );
    }
}
