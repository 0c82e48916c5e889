//! Python's `fnmatch.fnmatchcase`, character for character.
//!
//! API-token grants are keyed by patterns that the Python server matches with
//! `fnmatch.fnmatchcase`, and a token minted by one implementation must open
//! the same datasets in the other. No crate reproduces CPython here (glob,
//! globset, wildmatch and fnmatch-regex all disagree on `[!...]`, an unclosed
//! `[`, `**`, `{a,b}`, `^` or reversed ranges), so this is a port of CPython
//! 3.11's `fnmatch.translate`, checked against a truth table that CPython
//! itself generated (`tests/fixtures/fnmatch_truth.json`).
//!
//! We do not emit CPython's regex text verbatim: Python's `re` and Rust's
//! `regex` parse character classes differently (`[` nests in Rust, `&&` and
//! `--` are set operations). Instead we reproduce CPython's decisions (which
//! characters are literal, which hyphens make ranges, which ranges vanish) and
//! write every class member as `\x{..}`, which both engines read the same way.

use std::fmt;

use regex::Regex;

/// Longest pattern accepted, in characters. The `regex` crate matches in
/// linear time whatever the pattern, but compiling a huge one still costs
/// memory and time an untrusted client should not be able to demand.
pub const MAX_PATTERN_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern is too long ({len} characters): use at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("pattern {pattern:?} cannot be compiled: {reason}")]
    Compile { pattern: String, reason: String },
}

/// A glob pattern compiled once, matched many times.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let regex_source = translate(pattern)?;
        let regex = Regex::new(&regex_source).map_err(|e| PatternError::Compile {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Pattern {
            source: pattern.to_string(),
            regex,
        })
    }

    /// `fnmatch.fnmatchcase(name, pattern)`: case-sensitive, whole name.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// One-shot `fnmatch.fnmatchcase`. A pattern that [`Pattern::new`] refuses
/// (too long) matches nothing: failing closed is the safe answer for access
/// checks.
pub fn fnmatchcase(name: &str, pattern: &str) -> bool {
    Pattern::new(pattern).is_ok_and(|p| p.matches(name))
}

/// The Rust regex equivalent to CPython's `fnmatch.translate(pattern)`,
/// anchored at both ends like `re.match(...)` against `(?s:...)\Z`.
pub fn translate(pattern: &str) -> Result<String, PatternError> {
    let pat: Vec<char> = pattern.chars().collect();
    if pat.len() > MAX_PATTERN_LEN {
        return Err(PatternError::TooLong {
            len: pat.len(),
            max: MAX_PATTERN_LEN,
        });
    }
    let mut out = String::from("^(?s:");
    let mut after_star = false;
    let mut i = 0;
    while let Some(&c) = pat.get(i) {
        i += 1;
        if c == '*' {
            // CPython collapses runs of `*`; its atomic `(?>.*?X)` groups only
            // stop backtracking, which a finite automaton never does, so a
            // plain `.*` accepts exactly the same names.
            if !after_star {
                out.push_str(".*");
            }
            after_star = true;
            continue;
        }
        after_star = false;
        match c {
            '?' => out.push('.'),
            '[' => match class_end(&pat, i) {
                // An unclosed `[` is a literal; what follows is read as usual.
                None => out.push_str(r"\["),
                Some(j) => {
                    out.push_str(&render_class(pattern, &pat[i..j])?);
                    i = j + 1;
                }
            },
            _ => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push_str(r")\z");
    Ok(out)
}

/// Index of the `]` closing a class opened just before `start`. A `]` right
/// after `[` or `[!` is a member, not the end.
fn class_end(pat: &[char], start: usize) -> Option<usize> {
    let mut j = start;
    if pat.get(j) == Some(&'!') {
        j += 1;
    }
    if pat.get(j) == Some(&']') {
        j += 1;
    }
    (j..pat.len()).find(|&k| pat.get(k) == Some(&']'))
}

/// A class body split where CPython sees range hyphens. CPython's text is
/// `chunks.join("-")`; a hyphen inside a chunk is a literal.
fn range_chunks(stuff: &[char]) -> Vec<Vec<char>> {
    if !stuff.contains(&'-') {
        return vec![stuff.to_vec()];
    }
    let mut chunks: Vec<Vec<char>> = Vec::new();
    let mut i = 0;
    // The first member (after `!`) is never a range separator: `[-a]`, `[!-a]`.
    let mut k = if stuff.first() == Some(&'!') { 2 } else { 1 };
    // After `a-b` the search skips a character, so `a-b-c` is `a-b`, `-`, `c`.
    while let Some(h) = (k..stuff.len()).find(|&h| stuff.get(h) == Some(&'-')) {
        chunks.push(stuff[i..h].to_vec());
        i = h + 1;
        k = h + 3;
    }
    let rest = stuff.get(i..).unwrap_or_default();
    if !rest.is_empty() {
        chunks.push(rest.to_vec());
    } else if let Some(last) = chunks.last_mut() {
        last.push('-');
    }
    drop_reversed_ranges(&mut chunks);
    chunks
}

/// CPython deletes reversed ranges (`z-a`) and both their end points, right
/// to left, rather than letting `re` reject them.
fn drop_reversed_ranges(chunks: &mut Vec<Vec<char>>) {
    for k in (1..chunks.len()).rev() {
        let reversed = match (chunks[k - 1].last(), chunks[k].first()) {
            (Some(lo), Some(hi)) => lo > hi,
            _ => false,
        };
        if reversed {
            let next = chunks.remove(k);
            let prev = &mut chunks[k - 1];
            prev.pop();
            prev.extend(next.into_iter().skip(1));
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Token {
    Char(char),
    RangeDash,
}

fn render_class(pattern: &str, stuff: &[char]) -> Result<String, PatternError> {
    let mut tokens = Vec::new();
    for (n, chunk) in range_chunks(stuff).into_iter().enumerate() {
        if n > 0 {
            tokens.push(Token::RangeDash);
        }
        tokens.extend(chunk.into_iter().map(Token::Char));
    }
    // CPython tests for `!` after removing ranges, so `[z-a!]` is "any
    // character" and `[z-a!x]` is "not x": we keep those quirks.
    let (negated, members) = match tokens.as_slice() {
        [] => return Ok(r"[^\x{0}-\x{10FFFF}]".to_string()),
        [Token::Char('!')] => return Ok(".".to_string()),
        [Token::Char('!'), rest @ ..] => (true, rest),
        all => (false, all),
    };
    let mut out = String::from(if negated { "[^" } else { "[" });
    let mut n = 0;
    while let Some(&token) = members.get(n) {
        let lo = match token {
            Token::Char(c) => c,
            Token::RangeDash => '-',
        };
        match (token, members.get(n + 1), members.get(n + 2)) {
            (Token::Char(_), Some(Token::RangeDash), Some(&Token::Char(hi))) => {
                if lo > hi {
                    return Err(PatternError::Compile {
                        pattern: pattern.to_string(),
                        reason: format!("bad character range {lo}-{hi}"),
                    });
                }
                out.push_str(&format!(r"\x{{{:X}}}-\x{{{:X}}}", lo as u32, hi as u32));
                n += 3;
            }
            _ => {
                out.push_str(&format!(r"\x{{{:X}}}", lo as u32));
                n += 1;
            }
        }
    }
    out.push(']');
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn t(pattern: &str) -> String {
        translate(pattern).unwrap()
    }

    #[test]
    fn stars_collapse_and_literals_are_escaped() {
        assert_eq!(t("a**b"), r"^(?s:a.*b)\z");
        assert_eq!(t("a.b$"), r"^(?s:a\.b\$)\z");
        assert_eq!(t("?"), r"^(?s:.)\z");
    }

    #[test]
    fn classes_follow_cpython() {
        assert_eq!(t("[]]"), r"^(?s:[\x{5D}])\z");
        assert_eq!(t("[!]]"), r"^(?s:[^\x{5D}])\z");
        assert_eq!(t("[a-c]"), r"^(?s:[\x{61}-\x{63}])\z");
        assert_eq!(t("[a-]"), r"^(?s:[\x{61}\x{2D}])\z");
        assert_eq!(t("[z-a]"), r"^(?s:[^\x{0}-\x{10FFFF}])\z");
        assert_eq!(t("[!z-a]"), r"^(?s:.)\z");
        assert_eq!(t("[a"), r"^(?s:\[a)\z");
    }

    #[test]
    fn matching_examples() {
        assert!(fnmatchcase("abc", "a*"));
        assert!(!fnmatchcase("Abc", "a*"));
        assert!(fnmatchcase("a\nb", "a?b"));
        assert!(fnmatchcase("{a,b}", "{a,b}"));
        assert!(!fnmatchcase("a", "{a,b}"));
        assert!(fnmatchcase("[", "["));
        assert!(fnmatchcase("x", "[z-a!]"));
        assert!(!fnmatchcase("", "[z-a]"));
    }

    #[test]
    fn overlong_patterns_are_refused_and_match_nothing() {
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert_eq!(
            Pattern::new(&long).unwrap_err(),
            PatternError::TooLong {
                len: MAX_PATTERN_LEN + 1,
                max: MAX_PATTERN_LEN
            }
        );
        assert!(!fnmatchcase(&long, &long));
        assert!(Pattern::new(&"[!a]?*".repeat(MAX_PATTERN_LEN / 6)).is_ok());
    }
}
