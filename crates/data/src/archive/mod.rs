//! Scans as ZIP archives (data-api.md §8).
//!
//! - Download (§8.1): [`scan_entries`] lists what goes into a scan's archive
//!   and [`write_zip`] writes it as a *stored* (uncompressed) ZIP while
//!   streaming. The writer is hand-written rather than the `zip` crate's
//!   `ZipWriter`, which needs `Seek` to patch each local header once the
//!   CRC is known: we write straight into an HTTP body (through a blocking
//!   thread and a channel), start sending at once with no temporary file,
//!   and so use data descriptors (general-purpose flag bit 3) and ZIP64
//!   records when sizes, offsets or the entry count need them. Memory stays
//!   flat: files are copied in 64 KiB chunks and only the central directory
//!   (a few dozen bytes per entry) is kept until the end.
//! - Upload (§8.2, our steps 3-5): [`extract_scan_archive`] checks an
//!   uploaded archive (names, entry count, expanded size, Python's structure
//!   check) and extracts it into a staging directory, verifying every CRC.

mod download;
mod structure;
mod upload;
mod zip_stream;

pub use download::{scan_entries, ArchiveEntry};
pub use structure::{check_structure, ArchiveLayout};
pub use upload::{extract_scan_archive, ArchiveLimits};
pub use zip_stream::{write_zip, write_zip_with, zip_size, ZipOptions};
