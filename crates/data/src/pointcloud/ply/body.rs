//! A bounds-checked cursor over a PLY body, ASCII or binary, read through a
//! buffered reader: memory is the reader's buffer, whatever the file size.

use std::io::BufRead;

use super::header::{Element, Format, Kind, Scalar};
use super::{bad, read_error, truncated};
use crate::DataError;

/// Longest ASCII value parsed (a number is a few dozen bytes; this bounds
/// the memory a hostile token can take).
const MAX_TOKEN: usize = 64 * 1024;

/// A cursor over the body, in either encoding. `remaining` is the number of
/// body bytes the file had when opened: counts are checked against it, and
/// nothing past it is read.
pub(super) struct Body<R> {
    src: R,
    remaining: u64,
    format: Format,
    token: Vec<u8>,
}

impl<R: BufRead> Body<R> {
    pub(super) fn new(src: R, remaining: u64, format: Format) -> Self {
        Body {
            src,
            remaining,
            format,
            token: Vec::new(),
        }
    }

    pub(super) fn format(&self) -> Format {
        self.format
    }

    /// The buffered bytes (at most `remaining`), refilled when used up;
    /// empty at the end of the body. A function of the two fields so that
    /// `token` can be written while the chunk is borrowed.
    fn chunk(src: &mut R, remaining: u64) -> Result<&[u8], DataError> {
        let buf = src.fill_buf().map_err(read_error)?;
        let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        Ok(&buf[..n])
    }

    fn advance(&mut self, n: usize) {
        self.src.consume(n);
        self.remaining -= n as u64;
    }

    /// The next `N` bytes, which may straddle two buffer fills.
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DataError> {
        let mut out = [0; N];
        let buf = Self::chunk(&mut self.src, self.remaining)?;
        if let Some(bytes) = buf.get(..N) {
            out.copy_from_slice(bytes);
            self.advance(N);
            return Ok(out);
        }
        let mut filled = 0;
        while filled < N {
            let buf = Self::chunk(&mut self.src, self.remaining)?;
            if buf.is_empty() {
                return Err(truncated());
            }
            let n = buf.len().min(N - filled);
            out[filled..filled + n].copy_from_slice(&buf[..n]);
            self.advance(n);
            filled += n;
        }
        Ok(out)
    }

    /// The bytes of the next row when the buffer holds all `len` of them
    /// (consumed with [`Body::consume_row`]); `None` near a buffer's end.
    pub(super) fn row(&mut self, len: usize) -> Result<Option<&[u8]>, DataError> {
        let buf = Self::chunk(&mut self.src, self.remaining)?;
        Ok(buf.get(..len))
    }

    pub(super) fn consume_row(&mut self, len: usize) {
        self.advance(len);
    }

    /// Skips blanks, then reads one token, kept in `self.token` if `keep`.
    /// A token ends at a blank or at the end of the body.
    fn token(&mut self, keep: bool) -> Result<(), DataError> {
        self.token.clear();
        loop {
            let buf = Self::chunk(&mut self.src, self.remaining)?;
            if buf.is_empty() {
                return Err(truncated());
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(start) => {
                    self.advance(start);
                    break;
                }
                None => {
                    let n = buf.len();
                    self.advance(n);
                }
            }
        }
        loop {
            let buf = Self::chunk(&mut self.src, self.remaining)?;
            let end = buf.iter().position(u8::is_ascii_whitespace);
            let n = end.unwrap_or(buf.len());
            if keep {
                if self.token.len() + n > MAX_TOKEN {
                    return Err(not_a_number());
                }
                self.token.extend_from_slice(&buf[..n]);
            }
            self.advance(n);
            if end.is_some() || n == 0 {
                return Ok(());
            }
        }
    }

    /// One value of type `t`, widened to f64 (exact for every PLY type).
    pub(super) fn value(&mut self, t: Scalar) -> Result<f64, DataError> {
        macro_rules! num {
            ($n:literal) => {{
                let b = self.take::<$n>()?;
                decode(&b, t, self.format == Format::BinaryBe)
            }};
        }
        Ok(match (self.format, t) {
            (Format::Ascii, _) => {
                self.token(true)?;
                std::str::from_utf8(&self.token)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or_else(not_a_number)?
            }
            (_, Scalar::I8 | Scalar::U8) => num!(1),
            (_, Scalar::I16 | Scalar::U16) => num!(2),
            (_, Scalar::I32 | Scalar::U32 | Scalar::F32) => num!(4),
            (_, Scalar::F64) => num!(8),
        })
    }

    /// A list length, which must fit in the bytes that remain.
    pub(super) fn list_len(&mut self, t: Scalar) -> Result<usize, DataError> {
        let v = self.value(t)?;
        if v >= 0.0 && v.fract() == 0.0 && v <= self.remaining as f64 {
            Ok(v as usize)
        } else {
            Err(truncated())
        }
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), DataError> {
        if n > self.remaining {
            return Err(truncated());
        }
        let mut left = n;
        while left > 0 {
            let buf = Self::chunk(&mut self.src, self.remaining)?;
            if buf.is_empty() {
                return Err(truncated()); // the file shrank under us
            }
            let step = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
            self.advance(step);
            left -= step as u64;
        }
        Ok(())
    }

    pub(super) fn skip_property(&mut self, kind: Kind) -> Result<(), DataError> {
        match (self.format, kind) {
            (Format::Ascii, Kind::Scalar(_)) => self.token(false),
            (Format::Ascii, Kind::List { count, .. }) => {
                let n = self.list_len(count)?;
                (0..n).try_for_each(|_| self.token(false))
            }
            (_, Kind::Scalar(t)) => self.skip_bytes(t.size() as u64),
            (_, Kind::List { count, item }) => {
                let n = self.list_len(count)?;
                self.skip_bytes((n as u64).saturating_mul(item.size() as u64))
            }
        }
    }

    /// The smallest body an element of `count` rows can have.
    pub(super) fn check_fits(&self, element: &Element) -> Result<(), DataError> {
        let per_row = match self.format {
            // A token and a separator per property (the last may lack one).
            Format::Ascii => 2 * element.properties.len(),
            _ => binary_row(element),
        };
        let need = element
            .count
            .checked_mul(per_row as u64)
            .ok_or_else(truncated)?;
        if need > self.remaining.saturating_add(1) {
            return Err(truncated());
        }
        Ok(())
    }

    /// Rows the element may have given the bytes left: a safe capacity.
    pub(super) fn capacity(&self, element: &Element) -> usize {
        let fit = self.remaining / element.properties.len().max(1) as u64;
        usize::try_from(element.count.min(fit)).unwrap_or(0)
    }

    pub(super) fn skip(&mut self, element: &Element) -> Result<(), DataError> {
        if element.properties.is_empty() {
            return Ok(()); // rows of nothing: no bytes, whatever the count
        }
        self.check_fits(element)?;
        if self.format != Format::Ascii && !element.has_lists() {
            let row = binary_row(element) as u64;
            return self.skip_bytes(element.count.saturating_mul(row));
        }
        for _ in 0..element.count {
            for p in &element.properties {
                self.skip_property(p.kind)?;
            }
        }
        Ok(())
    }
}

/// Bytes of a binary row, lists counted by their length field alone.
pub(super) fn binary_row(element: &Element) -> usize {
    element
        .properties
        .iter()
        .map(|p| match p.kind {
            Kind::Scalar(t) | Kind::List { count: t, .. } => t.size(),
        })
        .sum()
}

/// A binary value of type `t` from the first `t.size()` bytes of `b`
/// (callers guarantee them).
pub(super) fn decode(b: &[u8], t: Scalar, big: bool) -> f64 {
    macro_rules! num {
        ($ty:ty, $n:literal) => {{
            let mut a = [0u8; $n];
            a.copy_from_slice(&b[..$n]);
            f64::from(if big {
                <$ty>::from_be_bytes(a)
            } else {
                <$ty>::from_le_bytes(a)
            })
        }};
    }
    match t {
        Scalar::I8 => num!(i8, 1),
        Scalar::U8 => num!(u8, 1),
        Scalar::I16 => num!(i16, 2),
        Scalar::U16 => num!(u16, 2),
        Scalar::I32 => num!(i32, 4),
        Scalar::U32 => num!(u32, 4),
        Scalar::F32 => num!(f32, 4),
        Scalar::F64 => num!(f64, 8),
    }
}

fn not_a_number() -> DataError {
    bad("an ASCII value is not a number")
}
