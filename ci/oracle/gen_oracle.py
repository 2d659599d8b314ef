"""Generate reference vectors for the safe serialized format from the real
flujo implementation (flujo==0.4.35, the last line with safe_serialize) and
legacy dumps from the real orjson. See README.md beside this file.

Usage: python gen_oracle.py OUT_DIR SEED N_RANDOM [--legacy N_LEGACY]

Writes OUT_DIR/values.jsonl (one case a line) and OUT_DIR/legacy/*.json with
OUT_DIR/legacy-expected/*.json.  The first line of values.jsonl is the
metadata of the run, {"meta": {"python": "3.12.1", "unicode": "15.0.0",
"flujo": "0.4.35", "seed": SEED}}: the Python matters, since its Unicode
database decides how repr writes dict keys. Every other line is a case:
  name, input (typed JSON, see docs/typed-json.md), safe (what safe_serialize
  returned, as typed JSON so NaN survives) or error, file_text (the bytes the
  new FileBackend writes: json.dumps(safe, sort_keys=True)), plain_text
  (json.dumps(safe)), loaded (typed JSON of safe_deserialize(json.loads(file_text)))

Random keys draw from an alphabet that holds characters whose printability
differs between Pythons (U+1E030 and U+0CF3 are new in Unicode 15.0, U+2FFC
in 15.1, U+1CC00 in 16.0), and tuple keys hold such text, so that the same
seed gives different vectors on 3.11, 3.12 and 3.13.
"""
import datetime as dt
import decimal
import enum
import json
import os
import random
import sys
import uuid

import orjson
from pydantic import BaseModel

from flujo.utils.serialization import (
    register_custom_deserializer,
    register_custom_serializer,
    safe_deserialize,
    safe_serialize,
)

from oracle_common import Color, Level, Money, Point, User, rand_key, rand_value, rand_value_dt, typed  # noqa: F401

register_custom_serializer(Money, lambda m: {"amount": m.amount, "currency": m.currency})
register_custom_deserializer(Money, lambda d: Money(d["amount"], d["currency"]))

TYPES = {"Color": Color, "Level": Level, "Point": Point, "User": User, "Money": Money}


# ---------------------------------------------------------------- values
def fixed_cases():
    utc = dt.timezone.utc
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    naive = dt.datetime(2025, 7, 1, 12, 0, 0, 120000)
    c = {
        "null": None, "true": True, "false": False,
        "int_zero": 0, "int_neg": -1, "int_i64_max": 2**63 - 1, "int_i64_min": -(2**63),
        "int_u64_max": 2**64 - 1, "int_beyond_u64": 2**64, "int_huge": 10**40, "int_huge_neg": -(10**40),
        "float_zero": 0.0, "float_negzero": -0.0, "float_one": 1.0, "float_tenth": 0.1,
        "float_1e16": 1e16, "float_1e15": 1e15, "float_small": 1e-7, "float_0001": 0.0001,
        "float_max": 1.7976931348623157e308, "float_min_sub": 5e-324, "float_third": 1 / 3,
        "float_nan": float("nan"), "float_inf": float("inf"), "float_neginf": float("-inf"),
        "str_empty": "", "str_ascii": "hello", "str_latin": "caf\u00e9", "str_cjk": "\u65e5\u672c\u8a9e",
        "str_emoji": "\U0001F600", "str_nul": "a\x00b", "str_controls": "\t\n\r\x01\x1f\x7f",
        "str_quotes": "\"\\/'", "str_ls_ps": "\u2028\u2029", "str_bom": "\ufeffx",
        "str_lone_surrogate": "\ud800", "str_nan_word": "nan", "str_inf_word": "inf",
        "str_iso_like": "2025-07-01T12:00:00", "str_b64_like": "aGk=", "str_long": "x" * 100000,
        "bytes_empty": b"", "bytes_bin": bytes(range(256)), "bytes_text": b"hello",
        "bytearray": bytearray(b"\x00\x01"),
        "datetime_naive": naive, "datetime_utc": naive.replace(tzinfo=utc),
        "datetime_ist": naive.replace(tzinfo=ist), "datetime_no_micro": dt.datetime(2000, 1, 1),
        "date": dt.date(1999, 12, 31), "time": dt.time(23, 59, 59, 1), "time_tz": dt.time(1, 2, 3, tzinfo=utc),
        "complex": complex(1.5, -2.0), "complex_nan": complex(float("nan"), 1.0),
        "complex_inf": complex(float("inf"), float("-inf")),
        "list_empty": [], "list_mixed": [1, "a", None, 2.5, True],
        "tuple": (1, 2), "tuple_nested": ((1,), [2, (3,)]),
        "set_ints": {3, 1, 2, 10}, "set_strs": {"b", "a", "c"}, "set_mixed": {1, "1", 2.5, None},
        "frozenset": frozenset({5, 4}), "set_empty": set(),
        "dict_empty": {}, "dict_nested": {"a": {"b": {"c": [1, {"d": None}]}}},
        "dict_int_keys": {1: "a", 2: "b", -3: "c"}, "dict_bool_key": {True: 1, "x": 2},
        "dict_none_key": {None: 1}, "dict_float_key": {1.5: "x", float("nan"): "n"},
        "dict_tuple_key": {(1, 2): "t"}, "dict_datetime_key": {naive: 1},
        "dict_enum_key": {Color.RED: 1}, "dict_dollar_key": {"$float": "nan"},
        "dict_dollar_two": {"$a": 1, "$b": 2}, "dict_key_order": {"b": 1, "a": 2, "C": 3, "\u00e9": 4, "_": 5},
        "dict_unicode_keys": {"\U0001F600": 1, "\x00": 2},
        "enum_int": Color.RED, "enum_str": Color.GREEN, "intenum": Level.HIGH,
        "dataclass": Point(1, 2.5, ("a", "b")), "dataclass_nan": Point(0, float("nan")),
        "model": User(name="ana", joined=naive.replace(tzinfo=utc), score=float("inf"), avatar=b"\xff\x00"),
        "custom_money": Money("12.50", "USD"),
        "custom_in_list": [Money("1", "EUR"), {"m": Money("2", "JPY")}],
        "callable": len,
        "uuid_unregistered": uuid.UUID(int=7), "decimal_unregistered": decimal.Decimal("1.10"),
    }
    deep = cur = {}
    for i in range(200):
        cur["n"] = {}
        cur = cur["n"]
    c["dict_deep_200"] = deep
    c["workflow_state"] = {
        "run_id": "run-1", "pipeline_id": "p", "pipeline_name": "demo", "pipeline_version": "1.0",
        "current_step_index": 2, "status": "running",
        "pipeline_context": {"user": User(name="bo", joined=naive), "prices": [Money("3", "USD")],
                              "seen": {"x", "y"}, "ratio": float("nan"), "blob": b"\x01"},
        "last_step_output": {"text": "ok", "tokens": (1, 2, 3)},
        "created_at": naive, "updated_at": naive.replace(tzinfo=utc),
    }
    return c


# ---------------------------------------------------------------- records
def record(name, value):
    rec = {"name": name}
    try:
        rec["input"] = typed(value)
    except TypeError as e:
        return None
    try:
        safe = safe_serialize(value)
    except Exception as e:  # flujo refuses the value
        rec["error"] = f"{type(e).__name__}: {e}"
        return rec
    rec["safe"] = typed(safe)
    rec["file_text"] = json.dumps(safe, sort_keys=True)
    rec["plain_text"] = json.dumps(safe)
    rec["loaded"] = typed(safe_deserialize(json.loads(rec["file_text"])))
    return rec


# ---------------------------------------------------------------- legacy dumps
def flujo_default_serializer(obj):
    """The default= hook that flujo's FileBackend passed to orjson before v0.7."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    raise TypeError


def legacy_ok(v):
    """orjson refuses sets, bytes, Decimal, complex, non-str keys, ints > 64 bit."""
    try:
        orjson.dumps(v, default=flujo_default_serializer)
        return True
    except Exception:
        return False


def legacy_state(r: random.Random, i: int):
    utc = dt.timezone.utc
    created = dt.datetime(2025, r.randint(1, 6), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.randint(0, 999999))
    ctx = {}
    for j in range(r.randint(1, 12)):
        v = rand_value(r, 1)
        if legacy_ok(v):
            ctx[rand_key(r) or f"k{j}"] = v
    history = [{"name": f"step{s}", "output": r.choice(["ok", {"n": r.randint(0, 9)}, [1.5, float("nan")]]),
                "latency_s": r.random(), "started": created + dt.timedelta(seconds=s)} for s in range(r.randint(0, 30))]
    ctx["history"] = history
    if r.random() < 0.1:  # a large context blob, as long transcripts make
        ctx["transcript"] = ["line %d \u00e9\U0001F600" % n for n in range(r.randint(1000, 20000))]
    return {
        "run_id": f"run-{i:06d}", "pipeline_id": f"pipe-{r.randint(0, 9)}", "pipeline_name": "demo",
        "pipeline_version": "0.6.0", "current_step_index": r.randint(0, 30), "pipeline_context": ctx,
        "last_step_output": rand_value(r, 2) if r.random() < 0.5 else None,
        "status": r.choice(["running", "paused", "completed", "failed", "cancelled"]),
        "created_at": created, "updated_at": created.replace(tzinfo=utc),
    }


def write_legacy(out, r, n):
    """Legacy dumps as flujo's pre-0.7 FileBackend wrote them, plus the two
    other shapes found in the wild: Python json.dumps (NaN/Infinity literals)
    and hand-edited files (comments, trailing commas: JSON5)."""
    src = os.path.join(out, "legacy")
    exp = os.path.join(out, "legacy-expected")
    os.makedirs(src, exist_ok=True)
    os.makedirs(exp, exist_ok=True)
    import json5
    for i in range(n):
        st = legacy_state(r, i)
        if not legacy_ok(st):
            continue
        shape = r.choices(["orjson", "pyjson", "json5"], [8, 1, 1])[0]
        if shape == "orjson":
            text = orjson.dumps(st, default=flujo_default_serializer)
        else:
            plain = json.loads(orjson.dumps(st, default=flujo_default_serializer))
            # put NaN back where orjson would have written null for a float
            plain["pipeline_context"]["ratio"] = float("nan")
            plain["pipeline_context"]["limit"] = float("-inf")
            text = json.dumps(plain, indent=r.choice([None, 2])).encode()
            if shape == "json5":
                s = text.decode()
                s = "// exported by hand\n" + s.replace('"pipeline_name": "demo",', '"pipeline_name": "demo", /* kept */')
                s = s.rstrip()
                s = s[:-1] + ",}" if s.endswith("}") else s
                text = s.encode()
        with open(os.path.join(src, f"{st['run_id']}.json"), "wb") as f:
            f.write(text)
        parsed = json5.loads(text.decode())  # reference reader: JSON5 is a superset
        with open(os.path.join(exp, f"{st['run_id']}.json"), "w") as f:
            f.write(json.dumps(safe_serialize(parsed), sort_keys=True))


LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS workflow_state (
    run_id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL,
    pipeline_name TEXT NOT NULL,
    pipeline_version TEXT NOT NULL,
    current_step_index INTEGER NOT NULL DEFAULT 0,
    pipeline_context TEXT NOT NULL,
    last_step_output TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    total_steps INTEGER DEFAULT 0,
    error_message TEXT,
    execution_time_ms INTEGER,
    memory_usage_mb REAL
)"""


def write_legacy_sqlite(out, r, n):
    """A database as flujo's pre-0.7 SQLiteBackend left it: orjson blobs in
    pipeline_context / last_step_output, isoformat timestamps.  The expected
    file per row is what the new FileBackend writes for the state that the
    old backend's load_state returned."""
    import sqlite3
    exp = os.path.join(out, "legacy-sqlite-expected")
    os.makedirs(exp, exist_ok=True)
    db = sqlite3.connect(os.path.join(out, "legacy.sqlite"))
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(LEGACY_SCHEMA)
    for i in range(n):
        st = legacy_state(r, 100000 + i)
        if not legacy_ok(st):
            continue
        ctx = orjson.dumps(st["pipeline_context"], default=flujo_default_serializer).decode()
        lso = None if st["last_step_output"] is None else orjson.dumps(st["last_step_output"], default=flujo_default_serializer).decode()
        err = r.choice([None, "boom: \u00e9"]) if st["status"] == "failed" else None
        row = (st["run_id"], st["pipeline_id"], st["pipeline_name"], st["pipeline_version"], st["current_step_index"],
               ctx, lso, st["status"], st["created_at"].isoformat(), st["updated_at"].isoformat(), r.randint(0, 40), err,
               r.choice([None, r.randint(0, 10**6)]), r.choice([None, r.random() * 100]))
        db.execute("INSERT INTO workflow_state VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
        loaded = {
            "run_id": row[0], "pipeline_id": row[1], "pipeline_name": row[2], "pipeline_version": row[3],
            "current_step_index": row[4], "pipeline_context": orjson.loads(row[5]),
            "last_step_output": None if row[6] is None else orjson.loads(row[6]), "status": row[7],
            "created_at": dt.datetime.fromisoformat(row[8]), "updated_at": dt.datetime.fromisoformat(row[9]),
            "total_steps": row[10] or 0, "error_message": row[11], "execution_time_ms": row[12], "memory_usage_mb": row[13],
        }
        with open(os.path.join(exp, f"{row[0]}.json"), "w") as f:
            f.write(json.dumps(safe_serialize(loaded), sort_keys=True))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def main():
    out, seed, n_random = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    n_legacy = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--legacy" else 0
    os.makedirs(out, exist_ok=True)
    r = random.Random(seed)
    recs = []
    if seed == 0:
        for name, v in fixed_cases().items():
            rec = record(name, v)
            if rec:
                recs.append(rec)
    for i in range(n_random):
        rec = record(f"random_{seed}_{i}", {"v": rand_value(r)})
        if rec:
            recs.append(rec)
    import importlib.metadata
    import platform
    import unicodedata

    meta = {"python": platform.python_version(), "unicode": unicodedata.unidata_version, "flujo": importlib.metadata.version("flujo"), "seed": seed}
    with open(os.path.join(out, "values.jsonl"), "w") as f:
        f.write(json.dumps({"meta": meta}, sort_keys=True) + "\n")
        for rec in recs:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
    if n_legacy:
        write_legacy(out, r, n_legacy)
        write_legacy_sqlite(out, r, max(1, n_legacy // 3))
    print(len(recs), "value cases", n_legacy, "legacy dumps ->", out)


if __name__ == "__main__":
    main()
