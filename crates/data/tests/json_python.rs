//! `json` against a live CPython on random documents and floats. Runs when
//! `PLANTDB_PYTHON` names a python (e.g. `target/pyenv/venv/bin/python`);
//! otherwise prints that it skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

use plantdb_data::json::{parse_lenient, to_python_json_sorted, to_python_json_unsorted_indent4};
use serde_json::{Map, Value};

/// Reads one compact JSON document per line and answers, per line, the
/// JSON-encoded pair of Python's sorted and unsorted indented dumps.
const PYTHON: &str = r#"
import json, sys
for line in sys.stdin:
    doc = json.loads(line)
    print(json.dumps([json.dumps(doc, sort_keys=True, indent=4), json.dumps(doc, indent=4)]))
"#;

/// splitmix64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn char(&mut self) -> char {
        let ranges: [(u32, u32); 5] = [
            (0, 0x80),
            (0x80, 0x800),
            (0x800, 0xd800),
            (0xe000, 0x10000),
            (0x10000, 0x110000),
        ];
        let (lo, hi) = ranges[self.below(5) as usize];
        char::from_u32(lo + self.below(u64::from(hi - lo)) as u32).unwrap_or('?')
    }

    fn string(&mut self) -> String {
        (0..self.below(6)).map(|_| self.char()).collect()
    }

    fn float(&mut self) -> f64 {
        loop {
            let x = match self.below(3) {
                0 => f64::from_bits(self.next()),
                1 => {
                    (self.next() as f64 / u64::MAX as f64) * 10f64.powi(self.below(40) as i32 - 20)
                }
                _ => (self.below(2_000_000) as f64 - 1e6) / 10f64.powi(self.below(8) as i32),
            };
            if x.is_finite() {
                return x;
            }
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth < 4 { 9 } else { 6 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => Value::from(self.next() as i64 >> self.below(64)),
            3 => Value::from(self.float()),
            4 | 5 => Value::String(self.string()),
            6 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let map: Map<String, Value> = (0..self.below(5))
                    .map(|_| (self.string(), self.value(depth + 1)))
                    .collect();
                Value::Object(map)
            }
        }
    }
}

#[test]
fn random_documents_dump_like_python() {
    let Ok(python) = std::env::var("PLANTDB_PYTHON") else {
        println!("skipped: set PLANTDB_PYTHON to a python to compare with CPython's json");
        return;
    };
    let mut rng = Rng(20261202);
    let docs: Vec<Value> = (0..2000).map(|_| rng.value(0)).collect();
    let input: String = docs.iter().map(|d| format!("{d}\n")).collect();

    let mut child = Command::new(python)
        .args(["-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());

    let answers = String::from_utf8(output.stdout).unwrap();
    let answers: Vec<&str> = answers.lines().collect();
    assert_eq!(answers.len(), docs.len());
    for (doc, answer) in docs.iter().zip(answers) {
        let want: (String, String) = serde_json::from_str(answer).unwrap();
        assert_eq!(to_python_json_sorted(doc), want.0, "{doc}");
        assert_eq!(to_python_json_unsorted_indent4(doc), want.1, "{doc}");
        // What Python wrote reads back to the same document.
        assert_eq!(&parse_lenient(want.1.as_bytes()).unwrap(), doc);
    }
}
