//! Python literals as the `metadata` field of a file upload may carry them
//! (`str(dict)` rather than JSON: Python's `ast.literal_eval`, data-api.md
//! §9.3), limited to dict, list, tuple, str, int, float, True, False, None.
//!
//! Hand-written: no crate parses Python literal syntax, and the subset is a
//! small recursive-descent grammar. Nesting is bounded so hostile input
//! cannot exhaust the stack.

use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 64;

/// Parses `text` as a Python literal into JSON (tuples become arrays).
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at offset {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    if self.eat(b'}') {
                        break;
                    }
                    let key = match self.value(depth + 1)? {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => if b { "true" } else { "false" }.to_string(),
                        Value::Null => "null".to_string(),
                        _ => return Err("dictionary keys must be strings or numbers".into()),
                    };
                    if !self.eat(b':') {
                        return Err(format!("expected ':' at offset {}", self.i));
                    }
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                    if self.eat(b'}') {
                        break;
                    }
                    if !self.eat(b',') {
                        return Err(format!("expected ',' or '}}' at offset {}", self.i));
                    }
                }
                Ok(Value::Object(map))
            }
            Some(open @ (b'[' | b'(')) => {
                self.i += 1;
                let close = if open == b'[' { b']' } else { b')' };
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    if self.eat(close) {
                        break;
                    }
                    if !self.eat(b',') {
                        return Err(format!("expected ',' at offset {}", self.i));
                    }
                }
                Ok(Value::Array(items))
            }
            Some(q @ (b'\'' | b'"')) => self.string(q).map(Value::String),
            Some(_) => self.atom(),
            None => Err("unexpected end of text".into()),
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let mut chars = rest.char_indices();
            let Some((_, c)) = chars.next() else {
                return Err("unterminated string".into());
            };
            self.i += c.len_utf8();
            if c as u32 == u32::from(quote) {
                return Ok(out);
            }
            if c == '\n' {
                return Err("newline in a string".into());
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.text[self.i..].chars().next() else {
                return Err("unterminated string".into());
            };
            self.i += e.len_utf8();
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'x' => out.push(self.hex(2)?),
                'u' => out.push(self.hex(4)?),
                'U' => out.push(self.hex(8)?),
                '\n' => {}
                other => {
                    // Unknown escapes stay as written, as in Python.
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex(&mut self, n: usize) -> Result<char, String> {
        let digits = self
            .text
            .get(self.i..self.i + n)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or("truncated escape")?;
        self.i += n;
        u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| "invalid escape".to_string())
    }

    fn atom(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || matches!(self.s[self.i], b'.' | b'-' | b'+' | b'_'))
        {
            self.i += 1;
        }
        let word = &self.text[start..self.i];
        match word {
            "True" => return Ok(Value::Bool(true)),
            "False" => return Ok(Value::Bool(false)),
            "None" => return Ok(Value::Null),
            "" => return Err(format!("unexpected character at offset {start}")),
            _ => {}
        }
        let clean = word.replace('_', "");
        if let Ok(i) = clean.parse::<i64>() {
            return Ok(Value::Number(Number::from(i)));
        }
        match clean.parse::<f64>() {
            Ok(f) if f.is_finite() => Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| "invalid number".into()),
            _ => Err(format!("'{word}' is not a Python literal")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_dict_strings() {
        assert_eq!(
            parse("{'a': 1, 'b': [1.5, True, None], \"c\": ('x', 'y'), 'd': {}}").unwrap(),
            json!({"a": 1, "b": [1.5, true, null], "c": ["x", "y"], "d": {}})
        );
        assert_eq!(parse("{'s': 'it\\'s\\n'}").unwrap(), json!({"s": "it's\n"}));
        assert_eq!(parse("[1, 2,]").unwrap(), json!([1, 2]));
        assert_eq!(parse("-3").unwrap(), json!(-3));
        assert_eq!(parse("'\\é'").unwrap(), json!("\\é"));
        assert!(parse("'\\xé'").is_err());
    }

    #[test]
    fn refuses_what_literal_eval_refuses() {
        for bad in [
            "{'a': f(1)}",
            "{'a' 1}",
            "[1 2]",
            "'open",
            "__import__('os')",
            "{1: }",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = "[".repeat(1000);
        assert!(parse(&deep).is_err());
    }
}
