#!/usr/bin/env python3
"""Write crates/core/tests/fixtures/fnmatch_truth.json: what CPython's
fnmatch.fnmatchcase answers for a few hundred (pattern, name) pairs.

The Rust port in crates/core/src/fnmatch.rs must agree with every row.
Stdlib only; deterministic (fixed seed), so re-running gives the same file
for the same Python version.

    python3 scripts/gen_fnmatch_truth.py
"""

import fnmatch
import json
import pathlib
import random
import sys

OUT = (
    pathlib.Path(__file__).resolve().parent.parent
    / "crates/core/tests/fixtures/fnmatch_truth.json"
)

# Each tricky pattern is checked against every name below, so each row is
# tested both where it should match and where it should not.
PATTERNS = [
    "", "*", "**", "***", "?", "??", "a", "abc", "a*", "*a", "*a*", "a*c", "a?c",
    "a**c", "*.json", "scan_*", "scan_?", "scan_[0-9]*", "plant[!_]*",
    # classes and their edge cases
    "[abc]", "[!abc]", "[a-c]", "[!a-c]", "[]]", "[!]]", "[]a]", "[!]a]",
    "[]-a]", "[]-]", "[-]", "[!-]", "[-a]", "[!-a]", "[a-]", "[!a-]", "[z-a]",
    "[!z-a]", "[a-z-0]", "[a-c-e]", "[a--]", "[--a]", "[---]", "[a-a]",
    "[z-a!]", "[z-a!x]", "[b-a-]", "[!b-a-]", "[a-cz-a]", "[z-ab-c]", "[^a]",
    "[!^]", "[\\]", "[\\-a]", "[a\\]", "[[]", "[a[]", "[[:alpha:]]", "[&&]",
    "[a&&b]", "[~~]", "[||]", "[a-c&&b]", "[.]", "[*]", "[?]", "[!]",
    "[", "[a", "[!", "[!a", "a[", "[]", "[!]", "[[]]", "][", "]",
    # things that are literal in fnmatch but special elsewhere
    "{a,b}", "a{b,c}d", "^a", "a$", "^", "$", ".", "a.c", "\\", "a\\b", "\\*",
    "\\?", "(a)", "a|b", "a+", "a{2}", "#a", "&", "~", "-", "a b", " ",
    # unicode
    "é", "[é]", "[!é]", "[à-ü]", "*é*", "日本*", "?本", "[日月]", "🌱*", "[🌱-🌳]",
]

NAMES = [
    "", "a", "b", "c", "z", "-", "!", "]", "[", "^", "$", ".", "\\", "*", "?",
    "&", "~", "|", "_", "0", "5", " ", "\n", "ab", "abc", "aXc", "a.c", "ac",
    "abbc", "a\nc", "{a,b}", "a{b,c}d", "abd", "^a", "a$", "scan_1", "scan_12",
    "scan_", "plant_a", "plantA", "x.json", ".json", "é", "e", "ü", "日本語",
    "月", "本", "🌱", "🌲", "A", "ABC", "[]", "[a]", "a|b", "(a)", "a b",
]

# Random patterns over an alphabet dense in metacharacters find the cases
# nobody thought to list.
FUZZ_ALPHABET = "ab-z!^]*?[\\"
FUZZ_NAMES = ["", "a", "b", "z", "-", "!", "^", "]", "[", "\\", "ab", "a-", "za"]


def pairs(rng):
    for pattern in PATTERNS:
        matching = [n for n in NAMES if fnmatch.fnmatchcase(n, pattern)]
        others = [n for n in NAMES if n not in matching]
        # Every match, and enough near misses to catch a class read backwards.
        for name in matching + rng.sample(others, min(len(others), 8)):
            yield pattern, name
    for _ in range(300):
        pattern = "".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(1, 7)))
        for name in rng.sample(FUZZ_NAMES, 3):
            yield pattern, name


def main():
    rng = random.Random(20261126)
    table, seen = [], set()
    for pattern, name in pairs(rng):
        if (pattern, name) not in seen:
            seen.add((pattern, name))
            table.append([pattern, name, fnmatch.fnmatchcase(name, pattern)])
    lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        "{\n"
        f'"generator": "scripts/gen_fnmatch_truth.py",\n'
        f'"python": {json.dumps(sys.version.split()[0])},\n'
        '"columns": ["pattern", "name", "expected"],\n'
        f'"rows": [\n{lines}\n]\n'
        "}\n",
        encoding="utf-8",
    )
    matched = sum(row[2] for row in table)
    print(f"wrote {len(table)} rows ({matched} matching) to {OUT}")


if __name__ == "__main__":
    main()
