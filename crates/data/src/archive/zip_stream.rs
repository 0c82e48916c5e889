//! A streaming writer of stored ZIP archives (APPNOTE 6.3.x).
//!
//! Every entry is written as: local header (CRC and sizes zero, flag bit 3),
//! the file's bytes, a data descriptor with the CRC computed while copying.
//! An entry whose size is `>= 0xFFFF_FFFF` carries ZIP64 extra fields and an
//! 8-byte-size descriptor; offsets `>= 0xFFFF_FFFF` and more than 65 534
//! entries add ZIP64 end records. Sizes are known in advance (the listing
//! stats every file), so these choices are made before writing and
//! [`zip_size`] can give the exact length of the archive up front.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use chrono::{DateTime, Datelike, Local, Timelike};

use super::ArchiveEntry;
use crate::DataError;

const LOCAL_SIG: u32 = 0x0403_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const ZIP64_END_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const END_SIG: u32 = 0x0605_4b50;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
const VERSION_DEFAULT: u16 = 20;
const VERSION_ZIP64: u16 = 45;
const MADE_BY_UNIX: u16 = 3 << 8;
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// The 32-bit marker meaning "see the ZIP64 field"; a real value must stay below it.
const MARK32: u64 = 0xFFFF_FFFF;
const MARK16: u64 = 0xFFFF;
/// `-rw-r--r--`, regular file, in the high half of the external attributes.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;
const CHUNK: usize = 64 * 1024;
const LOCAL_FIXED: u64 = 30;
const CENTRAL_FIXED: u64 = 46;
const END_LEN: u64 = 22;
const ZIP64_END_LEN: u64 = 56;
const ZIP64_LOCATOR_LEN: u64 = 20;

/// Knobs of the writer; the default is what the server uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZipOptions {
    /// Write every ZIP64 record even when nothing needs it (tests use this
    /// to exercise ZIP64 without writing 4 GiB).
    pub force_zip64: bool,
}

/// Writes `entries` as a stored ZIP into `out` and returns the bytes written.
/// A file that vanished or changed size since it was listed fails with
/// [`DataError::Io`]; the caller then aborts the body.
pub fn write_zip(entries: &[ArchiveEntry], out: impl Write) -> Result<u64, DataError> {
    write_zip_with(entries, out, ZipOptions::default())
}

/// [`write_zip`] with explicit [`ZipOptions`].
pub fn write_zip_with(
    entries: &[ArchiveEntry],
    out: impl Write,
    options: ZipOptions,
) -> Result<u64, DataError> {
    let mut out = Counting {
        inner: BufWriter::with_capacity(CHUNK, out),
        written: 0,
    };
    let mut central = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    for entry in entries {
        let header = Header::new(entry, options)?;
        let offset = out.written;
        header.write_local(&mut out).map_err(write_error)?;
        let crc = copy_file(entry, &mut out, &mut buf)?;
        header
            .write_descriptor(&mut out, crc)
            .map_err(write_error)?;
        header.push_central(&mut central, crc, offset, options);
    }
    let end = End {
        entries: entries.len() as u64,
        offset: out.written,
        size: central.len() as u64,
    };
    out.write_all(&central).map_err(write_error)?;
    end.write(&mut out, options).map_err(write_error)?;
    out.flush().map_err(write_error)?;
    Ok(out.written)
}

/// The exact number of bytes [`write_zip_with`] writes for `entries`, if
/// their files do not change meanwhile (for a `Content-Length`).
pub fn zip_size(entries: &[ArchiveEntry], options: ZipOptions) -> u64 {
    let mut offset = 0u64;
    let mut central = 0u64;
    for entry in entries {
        let zip64 = entry_needs_zip64(entry.size, options);
        let name = entry.name.len() as u64;
        let local_extra = if zip64 { 20 } else { 0 };
        let descriptor = if zip64 { 24 } else { 16 };
        let central_fields =
            if zip64 { 2 } else { 0 } + u64::from(offset_needs_zip64(offset, options));
        let central_extra = if central_fields > 0 {
            4 + 8 * central_fields
        } else {
            0
        };
        central += CENTRAL_FIXED + name + central_extra;
        offset += LOCAL_FIXED + name + local_extra + entry.size + descriptor;
    }
    let end = End {
        entries: entries.len() as u64,
        offset,
        size: central,
    };
    let zip64_end = if end.needs_zip64(options) {
        ZIP64_END_LEN + ZIP64_LOCATOR_LEN
    } else {
        0
    };
    offset + central + zip64_end + END_LEN
}

fn entry_needs_zip64(size: u64, options: ZipOptions) -> bool {
    options.force_zip64 || size >= MARK32
}

fn offset_needs_zip64(offset: u64, options: ZipOptions) -> bool {
    options.force_zip64 || offset >= MARK32
}

fn write_error(e: io::Error) -> DataError {
    DataError::io("Could not write the archive", e)
}

fn file_error(e: io::Error) -> DataError {
    DataError::io("A scan file could not be read while archiving", e)
}

fn changed(what: &str) -> DataError {
    file_error(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("a scan file {what} while it was being archived"),
    ))
}

/// Copies the entry's file in chunks, returning its CRC-32; the file must
/// still have the size it had when listed.
fn copy_file(entry: &ArchiveEntry, out: &mut impl Write, buf: &mut [u8]) -> Result<u32, DataError> {
    let mut file = File::open(&entry.path).map_err(file_error)?;
    let mut crc = crc32fast::Hasher::new();
    let mut remaining = entry.size;
    while remaining > 0 {
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = read_some(&mut file, &mut buf[..want])?;
        if n == 0 {
            return Err(changed("shrank"));
        }
        crc.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(write_error)?;
        remaining -= n as u64;
    }
    if read_some(&mut file, &mut buf[..1])? != 0 {
        return Err(changed("grew"));
    }
    Ok(crc.finalize())
}

fn read_some(file: &mut File, buf: &mut [u8]) -> Result<usize, DataError> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map_err(file_error),
        }
    }
}

/// What an entry's headers say, decided before its bytes are written.
struct Header<'a> {
    name: &'a [u8],
    size: u64,
    zip64: bool,
    flags: u16,
    time: u16,
    date: u16,
}

impl<'a> Header<'a> {
    fn new(entry: &'a ArchiveEntry, options: ZipOptions) -> Result<Self, DataError> {
        if entry.name.len() > usize::from(u16::MAX) {
            return Err(DataError::InvalidInput(
                "A file name is too long for a ZIP archive".into(),
            ));
        }
        let utf8 = if entry.name.is_ascii() { 0 } else { FLAG_UTF8 };
        let (time, date) = dos_time(entry.modified.map(DateTime::<Local>::from));
        Ok(Header {
            name: entry.name.as_bytes(),
            size: entry.size,
            zip64: entry_needs_zip64(entry.size, options),
            flags: FLAG_DESCRIPTOR | utf8,
            time,
            date,
        })
    }

    fn version(&self) -> u16 {
        if self.zip64 {
            VERSION_ZIP64
        } else {
            VERSION_DEFAULT
        }
    }

    fn write_local(&self, out: &mut impl Write) -> io::Result<()> {
        let mut b = Vec::with_capacity(LOCAL_FIXED as usize + self.name.len() + 20);
        put32(&mut b, LOCAL_SIG);
        put16(&mut b, self.version());
        put16(&mut b, self.flags);
        put16(&mut b, 0); // stored
        put16(&mut b, self.time);
        put16(&mut b, self.date);
        put32(&mut b, 0); // CRC: in the descriptor
        let size_field = if self.zip64 { u32::MAX } else { 0 };
        put32(&mut b, size_field);
        put32(&mut b, size_field);
        put16(&mut b, self.name.len() as u16);
        put16(&mut b, if self.zip64 { 20 } else { 0 });
        b.extend_from_slice(self.name);
        if self.zip64 {
            // Sizes unknown when the header is written (bit 3): zero.
            put16(&mut b, ZIP64_EXTRA_ID);
            put16(&mut b, 16);
            put64(&mut b, 0);
            put64(&mut b, 0);
        }
        out.write_all(&b)
    }

    fn write_descriptor(&self, out: &mut impl Write, crc: u32) -> io::Result<()> {
        let mut b = Vec::with_capacity(24);
        put32(&mut b, DESCRIPTOR_SIG);
        put32(&mut b, crc);
        if self.zip64 {
            put64(&mut b, self.size);
            put64(&mut b, self.size);
        } else {
            put32(&mut b, self.size as u32);
            put32(&mut b, self.size as u32);
        }
        out.write_all(&b)
    }

    fn push_central(&self, b: &mut Vec<u8>, crc: u32, offset: u64, options: ZipOptions) {
        let mut extra = Vec::new();
        if self.zip64 {
            put64(&mut extra, self.size);
            put64(&mut extra, self.size);
        }
        let big_offset = offset_needs_zip64(offset, options);
        if big_offset {
            put64(&mut extra, offset);
        }
        let size32 = if self.zip64 {
            u32::MAX
        } else {
            self.size as u32
        };
        let version = if big_offset {
            VERSION_ZIP64
        } else {
            self.version()
        };
        put32(b, CENTRAL_SIG);
        put16(b, MADE_BY_UNIX | version);
        put16(b, version);
        put16(b, self.flags);
        put16(b, 0); // stored
        put16(b, self.time);
        put16(b, self.date);
        put32(b, crc);
        put32(b, size32);
        put32(b, size32);
        put16(b, self.name.len() as u16);
        put16(
            b,
            if extra.is_empty() {
                0
            } else {
                extra.len() as u16 + 4
            },
        );
        put16(b, 0); // comment
        put16(b, 0); // disk
        put16(b, 0); // internal attributes
        put32(b, EXTERNAL_ATTRIBUTES);
        put32(b, if big_offset { u32::MAX } else { offset as u32 });
        b.extend_from_slice(self.name);
        if !extra.is_empty() {
            put16(b, ZIP64_EXTRA_ID);
            put16(b, extra.len() as u16);
            b.extend_from_slice(&extra);
        }
    }
}

/// The central directory's position, for the end records.
struct End {
    entries: u64,
    offset: u64,
    size: u64,
}

impl End {
    fn needs_zip64(&self, options: ZipOptions) -> bool {
        options.force_zip64
            || self.entries >= MARK16
            || self.offset >= MARK32
            || self.size >= MARK32
    }

    fn write(&self, out: &mut Counting<impl Write>, options: ZipOptions) -> io::Result<()> {
        let mut b = Vec::with_capacity((ZIP64_END_LEN + ZIP64_LOCATOR_LEN + END_LEN) as usize);
        let zip64 = self.needs_zip64(options);
        if zip64 {
            let record_offset = out.written;
            put32(&mut b, ZIP64_END_SIG);
            put64(&mut b, ZIP64_END_LEN - 12); // size of the rest of the record
            put16(&mut b, MADE_BY_UNIX | VERSION_ZIP64);
            put16(&mut b, VERSION_ZIP64);
            put32(&mut b, 0); // this disk
            put32(&mut b, 0); // disk of the central directory
            put64(&mut b, self.entries);
            put64(&mut b, self.entries);
            put64(&mut b, self.size);
            put64(&mut b, self.offset);
            put32(&mut b, ZIP64_LOCATOR_SIG);
            put32(&mut b, 0); // disk of the ZIP64 end record
            put64(&mut b, record_offset);
            put32(&mut b, 1); // total disks
        }
        // With ZIP64 end records, every field says "see ZIP64" (as Python
        // writes overflowing ones); readers then use the ZIP64 record.
        let entries16 = if zip64 { u16::MAX } else { self.entries as u16 };
        put32(&mut b, END_SIG);
        put16(&mut b, 0);
        put16(&mut b, 0);
        put16(&mut b, entries16);
        put16(&mut b, entries16);
        put32(&mut b, if zip64 { u32::MAX } else { self.size as u32 });
        put32(&mut b, if zip64 { u32::MAX } else { self.offset as u32 });
        put16(&mut b, 0); // comment
        out.write_all(&b)
    }
}

/// MS-DOS time and date of a local time, clamped to 1980..=2107.
fn dos_time(time: Option<DateTime<Local>>) -> (u16, u16) {
    match time {
        Some(t) if (1980..=2107).contains(&t.year()) => {
            let time = (t.hour() << 11) | (t.minute() << 5) | (t.second() / 2);
            let date = (((t.year() - 1980) as u32) << 9) | (t.month() << 5) | t.day();
            (time as u16, date as u16)
        }
        Some(t) if t.year() > 2107 => ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31),
        _ => (0, (1 << 5) | 1),
    }
}

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

/// Counts what goes through, for offsets.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dos_time_packs_fields_and_clamps() {
        let t = Local.with_ymd_and_hms(2024, 3, 4, 10, 0, 2).unwrap();
        assert_eq!(
            dos_time(Some(t)),
            ((10 << 11) | 1, (44 << 9) | (3 << 5) | 4)
        );
        let old = Local.with_ymd_and_hms(1970, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(dos_time(Some(old)), (0, (1 << 5) | 1));
        assert_eq!(dos_time(None), (0, (1 << 5) | 1));
    }

    #[test]
    fn an_empty_archive_is_just_an_end_record() {
        let mut out = Vec::new();
        let n = write_zip(&[], &mut out).unwrap();
        assert_eq!(n, 22);
        assert_eq!(out.len(), 22);
        assert_eq!(&out[..4], b"PK\x05\x06");
        assert_eq!(zip_size(&[], ZipOptions::default()), 22);
    }

    #[test]
    fn a_failing_writer_is_an_io_error() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
        }
        let err = write_zip(&[], Broken).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
    }
}
