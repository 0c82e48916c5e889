//! The PLY header: format, elements, properties and their types.

use std::io::{BufRead, Read};

use super::{bad, read_error};
use crate::DataError;

/// Longest header accepted (comments included).
const MAX_HEADER: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Ascii,
    BinaryLe,
    BinaryBe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    pub(super) fn from_name(name: &str) -> Option<Scalar> {
        Some(match name {
            "char" | "int8" => Scalar::I8,
            "uchar" | "uint8" => Scalar::U8,
            "short" | "int16" => Scalar::I16,
            "ushort" | "uint16" => Scalar::U16,
            "int" | "int32" => Scalar::I32,
            "uint" | "uint32" => Scalar::U32,
            "float" | "float32" => Scalar::F32,
            "double" | "float64" => Scalar::F64,
            _ => return None,
        })
    }

    pub(super) fn size(self) -> usize {
        match self {
            Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::F64 => 8,
        }
    }

    pub(super) fn is_float(self) -> bool {
        matches!(self, Scalar::F32 | Scalar::F64)
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Scalar(Scalar),
    List { count: Scalar, item: Scalar },
}

#[derive(Debug)]
pub(super) struct Property {
    pub(super) name: String,
    pub(super) kind: Kind,
}

#[derive(Debug)]
pub(super) struct Element {
    pub(super) name: String,
    pub(super) count: u64,
    pub(super) properties: Vec<Property>,
}

impl Element {
    /// The scalar property `name`: its position and type.
    pub(super) fn scalar(&self, name: &str) -> Option<(usize, Scalar)> {
        self.properties
            .iter()
            .enumerate()
            .find_map(|(i, p)| match p.kind {
                Kind::Scalar(t) if p.name == name => Some((i, t)),
                _ => None,
            })
    }

    pub(super) fn has_lists(&self) -> bool {
        self.properties
            .iter()
            .any(|p| matches!(p.kind, Kind::List { .. }))
    }
}

pub(super) struct Header {
    pub(super) format: Format,
    pub(super) elements: Vec<Element>,
}

/// The header, read line by line from `src` (never more than
/// [`MAX_HEADER`] bytes), and its length: `src` is left at the first body
/// byte.
pub(super) fn read_header(src: &mut impl BufRead) -> Result<(Header, u64), DataError> {
    let mut pos = 0;
    let mut format = None;
    let mut elements: Vec<Element> = Vec::new();
    let mut first = true;
    let mut line = Vec::new();
    loop {
        line.clear();
        // One byte over the limit tells a long header from one that ends.
        let budget = (MAX_HEADER + 1 - pos) as u64;
        let len = src
            .by_ref()
            .take(budget)
            .read_until(b'\n', &mut line)
            .map_err(read_error)?;
        if line.last() != Some(&b'\n') {
            return Err(if len as u64 == budget {
                bad("its header is too long")
            } else {
                bad("its header has no end_header line")
            });
        }
        pos += len;
        if pos > MAX_HEADER {
            return Err(bad("its header is too long"));
        }
        let line = String::from_utf8_lossy(&line[..len - 1]);
        let mut words = line.split_ascii_whitespace();
        let keyword = words.next();
        if first {
            if keyword != Some("ply") || words.next().is_some() {
                return Err(bad("it does not start with 'ply'"));
            }
            first = false;
            continue;
        }
        match keyword {
            None | Some("comment") | Some("obj_info") => {}
            Some("format") => format = Some(parse_format(&mut words)?),
            Some("element") => elements.push(parse_element(&mut words)?),
            Some("property") => {
                let element = elements
                    .last_mut()
                    .ok_or_else(|| bad("a property comes before any element"))?;
                element.properties.push(parse_property(&mut words)?);
            }
            Some("end_header") => break,
            Some(_) => return Err(bad("its header has an unknown line")),
        }
    }
    let format = format.ok_or_else(|| bad("its header has no format line"))?;
    Ok((Header { format, elements }, pos as u64))
}

fn parse_format<'a>(words: &mut impl Iterator<Item = &'a str>) -> Result<Format, DataError> {
    let format = match words.next() {
        Some("ascii") => Format::Ascii,
        Some("binary_little_endian") => Format::BinaryLe,
        Some("binary_big_endian") => Format::BinaryBe,
        _ => return Err(bad("unknown format")),
    };
    match words.next() {
        Some("1.0") | Some("1") => Ok(format),
        _ => Err(bad("unknown format version")),
    }
}

fn parse_element<'a>(words: &mut impl Iterator<Item = &'a str>) -> Result<Element, DataError> {
    let (Some(name), Some(count)) = (words.next(), words.next()) else {
        return Err(bad("an element line is incomplete"));
    };
    let count = count
        .parse::<u64>()
        .map_err(|_| bad("an element count is not a number"))?;
    Ok(Element {
        name: name.to_owned(),
        count,
        properties: Vec::new(),
    })
}

fn parse_property<'a>(words: &mut impl Iterator<Item = &'a str>) -> Result<Property, DataError> {
    let scalar = |w: Option<&str>| {
        w.and_then(Scalar::from_name)
            .ok_or_else(|| bad("a property has an unknown type"))
    };
    let first = words.next();
    let kind = if first == Some("list") {
        let count = scalar(words.next())?;
        if count.is_float() {
            return Err(bad("a list has a floating-point length"));
        }
        Kind::List {
            count,
            item: scalar(words.next())?,
        }
    } else {
        Kind::Scalar(scalar(first)?)
    };
    let name = words.next().ok_or_else(|| bad("a property has no name"))?;
    Ok(Property {
        name: name.to_owned(),
        kind,
    })
}
