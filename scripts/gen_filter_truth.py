#!/usr/bin/env python3
"""Write the truth tables of crates/data/src/{filter,json}.rs, answered by the
real PlantDB and CPython code:

- crates/data/tests/data/filter_truth.json: `plantdb.commons.utils.partial_match`
  over (query, value, fuzzy) triples, `_filter_query` over small item lists,
  and the `timelapse.scheduled` sort key of `_sort_scans`;
- crates/data/tests/data/json_truth.json: `repr(float)`, `json.dumps(indent=4)`
  with and without `sort_keys`, and what `json.loads` accepts (NaN and
  Infinity mapped to null, as we read them).

Deterministic (fixed seed). Run with the venv that has plantdb installed:

    target/pyenv/venv/bin/python scripts/gen_filter_truth.py
"""

import json
import math
import pathlib
import random
import struct
import sys
import types
from types import SimpleNamespace

from plantdb.commons.fsdb import core
from plantdb.commons.fsdb.metadata import _get_metadata
from plantdb.commons.utils import partial_match

DATA = pathlib.Path(__file__).resolve().parent.parent / "crates/data/tests/data"

# Query strings must be valid in both Python's `re` and Rust's `regex`: Filter
# compiles every string of a fuzzy query.
QUERY_STRINGS = [
    "", "a", "abc", "plant-1", "plant-1$", "^plant", "Plant", "(?i)plant-1",
    "[Pp]lant-\\d+", "pl.*1", "a|plant", "x|a", "\\w+", "ab?c", "1", "true",
    "é", "\\.", "a.c", "(ab)+", "[^a]", "abc$",
]
VALUE_STRINGS = [
    "", "a", "abc", "abcd", "xabc", "plant-1", "plant-10", "Plant-1", "aplant-1",
    "1", "true", "é", "a.c", "abc\n", ".", "ababab", "b",
]
SCALARS = [0, 1, -1, 2, 1.0, 0.0, -0.0, 1.5, 2.0, True, False, None,
           9007199254740993, 9007199254740992.0, 18446744073709551615]
CONTAINERS = [
    {}, {"a": 1}, {"a": 1.0}, {"a": True}, {"a": "abc"}, {"a": 1, "b": "x"},
    {"a": {"b": 1}}, {"a": {"b": 1, "c": [1, 2]}}, {"a": None}, {"b": {}},
    [], [1], [1.0], [True], [1, 2], [2, 1], [1, 1], ["a", "b"], ["abc"],
    [[1]], [[1, 2], [3]], [{"a": 1}], [{"a": 1, "b": 2}, {"c": 3}], [None],
    [{}], [[]], ["plant-1", "plant-10"],
]


def partial_match_rows():
    rng = random.Random(20261202)
    queries = QUERY_STRINGS + SCALARS + CONTAINERS + [
        {"a": "ab"}, {"a": "a.*"}, ["a"], ["a.*", "b"], [{"a": "ab"}],
        {"a": {"b": "1"}}, {"a": {"c": [1]}}, [[1], [1]], [1, 1, 1],
    ]
    values = VALUE_STRINGS + SCALARS + CONTAINERS
    rows = []
    for fuzzy in (False, True):
        for q in queries:
            # Strings meet every string (where fuzzy matters); other values
            # meet themselves and values of their kind; all meet a few others.
            if isinstance(q, str):
                near = VALUE_STRINGS
            else:
                kind = [v for v in values if type(v) is type(q) and v != q]
                near = [q] + rng.sample(kind, min(10, len(kind)))
            others = [v for v in values if v not in near]
            for v in near + rng.sample(others, 5):
                rows.append({"query": q, "value": v, "fuzzy": fuzzy,
                             "result": bool(partial_match(q, v, fuzzy=fuzzy))})
    return rows


class Item:
    """What `_filter_query` needs of a Scan, Fileset or File."""

    def __init__(self, item_id, metadata):
        self.id = item_id
        self.metadata = metadata

    def get_metadata(self, key=None, default={}):
        return _get_metadata(self.metadata, key, default)


ITEMS = [
    ("real_plant", {"owner": "bob", "biologicalMaterial": {"biologicalMaterialId": "plant-1",
                                                           "organism": {"species": "A. thaliana"}}}),
    ("p10", {"owner": "alice", "biologicalMaterial": {"biologicalMaterialId": "plant-10"}}),
    ("p11", {"owner": "bob", "biologicalMaterial": {"biologicalMaterialId": "plant-11"}, "tags": ["a", "b"]}),
    ("p2", {"owner": "bob", "biologicalMaterial": {"biologicalMaterialId": "plant-2"}, "n": 1}),
    ("bare", {}),
    ("tl", {"owner": "carol", "timelapse": {"id": "tl_1", "index": 0}, "n": 1.0, "flag": True}),
    ("tl10", {"timelapse": {"id": "tl_10", "index": 1}, "flag": 1, "empty": {}}),
]
FILTERS = [
    {}, {"owner": "bob"}, {"owner": "bo"}, {"owner": "b.*"}, {"owner": {}},
    {"biologicalMaterial": {"biologicalMaterialId": "plant-1"}},
    {"biologicalMaterial": {"biologicalMaterialId": "plant-1$"}},
    {"biologicalMaterial": {}}, {"missing": {}}, {"missing": None}, {"empty": {}},
    {"tags": ["a"]}, {"tags": ["b", "a"]}, {"tags": []}, {"tags": ["a", "b", "c"]},
    {"n": 1}, {"n": True}, {"flag": 1}, {"flag": True}, {"timelapse": {"id": "tl_1"}},
    {"owner": "bob", "n": 1}, {"timelapse": {"index": 0}}, {"timelapse": {"index": False}},
]


def filter_rows():
    items = [Item(i, m) for i, m in ITEMS]
    return [{"query": q, "fuzzy": fuzzy,
             "kept": [o.id for o in core._filter_query(items, q, fuzzy)]}
            for fuzzy in (False, True) for q in FILTERS]


def filter_items():
    return [{"id": i, "metadata": m} for i, m in ITEMS]


def real_sort_key():
    """The `sort_key` closure nested in `core._sort_scans`."""
    code = next(c for c in core._sort_scans.__code__.co_consts
                if isinstance(c, types.CodeType) and c.co_name == "sort_key")
    return types.FunctionType(code, core.__dict__)


SCHEDULED = [
    "2026-09-03T10:00:00Z", "2026-09-03T14:00:00Z", "", None, 0, 0.0, -0.0, 1, 1.5,
    1e16, 1e-05, True, False, [], {}, ["a", 1, None, True, 1.0], {"a": "it's"},
    "b'\"", {"k": ["x\ny", "tab\t", "\x01\x7f", "é", "\\", "\xa0"]}, 18446744073709551615,
    "Z", "a", "é", "10", "9",
]
INDEXES = [
    None, 0, 1, -3, 2.9, -2.9, True, False, " 5 ", "1_0", "+5", "-7", "1__0", "_1",
    "1_", "0x10", "1.5", "", " ", "007", "-0", "\u20035", "\x855", "\x1c5", "5\n",
    [], {}, "abc", 1e18, 9223372036854775807,
]


def sort_rows():
    key = real_sort_key()
    metadatas = [{}, {"timelapse": None}, {"timelapse": "tl"}, {"timelapse": []},
                 {"timelapse": {}}]
    metadatas += [{"timelapse": {"scheduled": s}} for s in SCHEDULED]
    metadatas += [{"timelapse": {"index": i}} for i in INDEXES]
    metadatas += [{"timelapse": {"scheduled": s, "index": i}}
                  for s, i in zip(SCHEDULED, reversed(INDEXES))]
    keys = []
    for m in metadatas:
        scheduled, index = key(SimpleNamespace(metadata=m))
        keys.append({"metadata": m, "scheduled": scheduled, "index": index})
    scans = [SimpleNamespace(id=f"s{n:03}", metadata=m) for n, m in enumerate(metadatas)]
    random.Random(7).shuffle(scans)
    by_id = sorted(scans, key=lambda s: s.id)
    order = {"sorted": [s.id for s in core._sort_scans(scans, "timelapse.scheduled")],
             "sorted_from_id_order": [s.id for s in core._sort_scans(by_id, "timelapse.scheduled")]}
    return {"sort_keys": keys, "sort_scans": [{"id": s.id, "metadata": s.metadata} for s in scans],
            "sort_order": order}


def float_rows():
    rng = random.Random(1202)
    xs = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 1e-5, 1e-4, 0.0001234,
          0.00009999, 9.999e-5, 1e15, 1e16, 1e17, 9999999999999998.0, 1e22, 1e21, 1e23,
          123456789.123, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
          100.0, 1.5, 2.5e-7, 123456789012345678.0, 4.35, 0.07, 1e100, 1e-100]
    xs += [10.0 ** e for e in range(-30, 31)]
    xs += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(300)]
    xs += [round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)) for _ in range(300)]
    xs += [rng.uniform(0, 1) * 10.0 ** rng.randint(-20, 20) for _ in range(300)]
    rows = []
    for x in xs:
        if math.isfinite(x):
            bits = struct.unpack("<Q", struct.pack("<d", x))[0]
            rows.append({"bits": f"{bits:016x}", "repr": repr(x)})
    return rows


def random_doc(rng, depth=0):
    kind = rng.randrange(10 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 7, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e-7, 1e16, 3.14159, 2.0, 1e300])
    if kind in (4, 5):
        return "".join(rng.choice(["a", "Z", " ", "é", "ü", "日", "😀", "\"", "\\", "\n",
                                   "\t", "\x00", "\x1f", "\x7f", "/", "'", "\u2028"])
                       for _ in range(rng.randrange(6)))
    if kind in (6, 7):
        return [random_doc(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["b", "a", "B", "é", "a b", "_", "10", "9", "😀", "ü", ""]
    return {rng.choice(keys): random_doc(rng, depth + 1) for _ in range(rng.randrange(5))}


def dumps_rows():
    rng = random.Random(42)
    docs = [{}, [], None, "x", 1.0, {"filesets": []},
            {"filesets": [{"id": "images", "files": [{"id": "00000_rgb", "file": "00000_rgb.jpg"}]}]}]
    docs += [random_doc(rng) for _ in range(150)]
    return [{"input": json.dumps(d, ensure_ascii=False),
             "sorted": json.dumps(d, sort_keys=True, indent=4),
             "unsorted": json.dumps(d, indent=4)} for d in docs]


def finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    return value


LENIENT = [
    "NaN", "Infinity", "-Infinity", " NaN ", "[NaN,Infinity,-Infinity]", "{\"a\":NaN}",
    "{\"NaN\": \"Infinity\"}", "[\"NaN\", NaN]", "[1e400, -1e400]", "[1, 2]", "{}", "-0",
    "-0.0", "1E2", "[1.5e-7]", "{\"a\": 1, \"a\": 2}", "\"\\u00e9\\ud83d\\ude00\"",
    "-NaN", "nan", "inf", "NaNN", "[NaN,]", "Infinityy", "+1", "01", "1.", ".5", "",
    " ", "{'a': 1}", "\ufeff{}", "\"a\tb\"", "[1] x", "{\"a\" NaN}", "--Infinity",
    "- Infinity", "Inf", "[-Infinity1]", "[\"\\\"\", NaN]", "[\"\\\\\", NaN]",
    "{\"a\": [NaN, {\"b\": -Infinity}]}", "\n\t[\r\n NaN \n]\n",
]


def lenient_rows():
    rows = []
    for text in LENIENT:
        try:
            value = json.loads(text, parse_constant=lambda _: None)
        except ValueError:
            rows.append({"input": text, "error": True})
        else:
            rows.append({"input": text, "error": False, "value": finite_or_none(value)})
    return rows


def write(name, doc):
    """One table row per line: reviewable diffs, modest size."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / name

    def dump(value):
        return json.dumps(value, ensure_ascii=False)

    parts = []
    for key, value in doc.items():
        if isinstance(value, list):
            rows = ",\n".join("  " + dump(row) for row in value)
            parts.append(f"{dump(key)}: [\n{rows}\n ]")
        else:
            parts.append(f"{dump(key)}: {dump(value)}")
    path.write_text("{\n " + ",\n ".join(parts) + "\n}\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


def main():
    python = sys.version.split()[0]
    write("filter_truth.json", {"python": python, "partial_match": partial_match_rows(),
                                "filter_items": filter_items(), "filter_query": filter_rows(),
                                **sort_rows()})
    write("json_truth.json", {"python": python, "float_repr": float_rows(),
                              "dumps": dumps_rows(), "lenient": lenient_rows()})


if __name__ == "__main__":
    main()
