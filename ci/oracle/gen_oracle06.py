"""Generate reference vectors for flujo 0.6.11: its two serializer paths and
what its own InMemory, File and SQLite backends store and load for each
value. See README.md beside this file.

Usage: python gen_oracle06.py OUT_DIR SEED N_RANDOM [--no-fixed]

Needs flujo==0.6.11 on Python >= 3.13 (`bash ci/flujo-venv.sh 0.6.11`).
Runs under PYTHONHASHSEED=0 (re-executing itself when the variable is
unset): flujo 0.6 writes sets in iteration order, which for strings follows
the hash seed.

Writes OUT_DIR/values.jsonl. Its first line is the metadata,
{"meta": {"flujo": "0.6.11", "python", "unicode", "seed", "PYTHONHASHSEED",
"state_template"}}; `state_template` is the state (typed JSON) saved for
every case, with the case's value as pipeline_context["v"]. Every other
line is a case (keys sorted):
  name, input      the value, typed JSON (oracle_common.typed, extended: the
                   tags $timedelta, $path, $class, $object, $backref mark
                   values the engine does not model)
  serialize_file   flujo.utils.serialization._serialize_for_json(input), its
                   defaults (FileBackend's path), typed; or serialize_file_error
  serialize_strict flujo.state.backends.base._serialize_for_json(input)
                   (strict, InMemory and SQLite's path); or serialize_strict_error
  memory, file, sqlite
                   {save: "ok" | "Type: message", stored (if anything was),
                   loaded (typed load_state result) | load_error}; stored is
                   the kept dict (memory, typed), the file's exact text
                   (file), the workflow_state row, column -> value (sqlite)

Cases: unless --no-fixed, the fixed cases below (one per 0.6 behaviour);
then N_RANDOM random {"v": value} from oracle_common.rand_value (the 0.4
generator, so a seed's inputs are gen_oracle.py's), about half of them with
0.6 leaves mixed in from a second stream.
"""
import os
import sys

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED", "") in ("", "random"):
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], dict(os.environ, PYTHONHASHSEED="0"))

import asyncio
import datetime as dt
import decimal
import enum
import importlib.metadata as md
import json
import pathlib
import platform
import random
import sqlite3
import tempfile
import shutil
import unicodedata
import uuid

from flujo.state.backends.base import _serialize_for_json as flujo_serialize_strict
from flujo.state.backends.file import FileBackend
from flujo.state.backends.memory import InMemoryBackend
from flujo.state.backends.sqlite import SQLiteBackend
from flujo.state.models import WorkflowState
from flujo.utils.serialization import _serialize_for_json as flujo_serialize_file
from flujo.utils.serialization import register_custom_deserializer, register_custom_serializer

from oracle_common import Color, Event, Level, Money, Point, User, rand_key, rand_value, typed

FLUJO_VERSION = "0.6.11"

register_custom_serializer(Money, lambda m: {"amount": m.amount, "currency": m.currency})
register_custom_deserializer(Money, lambda d: Money(d["amount"], d["currency"]))


def typed6(v):
    return typed(v, extended=True)


def chain(kind, n, leaf="leaf"):
    """n nested containers (dicts {"n": ...} or one-element lists) around leaf."""
    v = leaf
    for _ in range(n):
        v = {"n": v} if kind == "dict" else [v]
    return v


def fixed_cases():
    """One case (or a few) per behaviour that changed in flujo 0.6."""
    utc = dt.timezone.utc
    at = dt.datetime(2025, 7, 1, 12, 0, 0, 120000, tzinfo=utc)
    c = {}
    for n in (61, 62, 63, 64, 65, 66):  # the cut-off moves with the depth each path starts at
        c[f"depth_dict_{n}"] = chain("dict", n)
        c[f"depth_list_{n}"] = chain("list", n)
    c["depth_list_66_model_leaf"] = chain("list", 66, User(name="deep", joined=at))
    c["depth_dict_64_bytes_leaf"] = chain("dict", 64, b"\xff")
    c.update({
        "bytes_invalid_utf8": b"\xff\xfe\x00abc\xc3", "bytes_utf8_text": "h\u00e9llo \U0001F600".encode(),
        "bytearray_invalid_utf8": bytearray(b"\x80\x81ok"),
        "set_strs": {f"s{i}\u00e9" for i in range(12)}, "set_mixed": {1, "1", 2.5, None, True, (1, "a"), Color.RED},
        "frozenset_strs": frozenset({"z", "y", "x"}), "set_of_frozensets": {frozenset({1}), frozenset({"a", "b"})},
        "dict_real_imag": {"real": 1, "imag": 2}, "dict_real_imag_str": {"real": "a", "imag": "b"},
        "dict_real_imag_extra": {"real": 1, "imag": 2, "x": 0}, "dict_real_imag_nested": {"c": {"real": 0, "imag": True}},
        "complex_nan": complex(float("nan"), 1.0), "complex_in_list": [complex(0, 1), complex(2, float("inf"))],
        "int_u64_max": {"n": 2**64 - 1}, "int_beyond_u64": {"n": 2**64}, "int_below_i64": -(2**63) - 1,
        "str_lone_surrogate": {"s": "a\ud800b"}, "str_nul_key": {"\x00k": "\x00"},
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"), "uuid_key": {uuid.UUID(int=1): "u"},
        "decimal": decimal.Decimal("3.14159"), "decimal_exp": [decimal.Decimal("1E+3"), decimal.Decimal("-0.00")],
        "model_text_bytes": User(name="cy", joined=at, score=float("nan"), avatar=b"png"),
        "model_bad_bytes": {"u": User(name="d", joined=at, avatar=b"\xfe")},
        "model_naive": User(name="n", joined=dt.datetime(2025, 1, 2, 3, 4, 5)),
        "dataclass_rich": Point(1, 0.5, (b"\xff", uuid.UUID(int=3), decimal.Decimal("2.50"), Level.LOW, Point(2, 0.0))),
        "enum_values": [Color.RED, Color.GREEN, Level.HIGH], "enum_keys": {Level.LOW: "low", Color.GREEN: "g"},
        "callable": {"f": len},
        # Not modelled by the engine (skipped, counted by tag):
        "timedelta_in_dict": {"t": dt.timedelta(seconds=30)}, "path_in_dict": {"p": pathlib.Path("a/b")},
        "class_in_dict": {"c": Color}, "object_in_list": [1, object()],
        "model_event": Event(name="e", payload=b"ok", at=at, took=dt.timedelta(hours=1)),
    })
    cyc = [1]
    cyc.append(cyc)
    c["circular_list"] = cyc
    return c


def leaf06(r2, depth):
    """A value of a kind 0.6 treats differently, drawn from the second stream."""
    k = r2.choices(["uuid", "decimal", "bytearray", "frozenset", "set_strs", "int_edge", "real_imag",
                    "complex_nan", "bytes", "intenum", "surrogate", "chain", "timedelta"],
                   [8, 8, 6, 5, 8, 8, 6, 4, 8, 4, 1, 3, 1])[0]
    if k == "uuid":
        return uuid.UUID(int=r2.getrandbits(128))
    if k == "decimal":
        return decimal.Decimal(r2.choice(["0.1", "-7", "1E+3", "NaN", "-0.00", str(r2.randint(-999, 999))]))
    if k == "bytearray":
        return bytearray(r2.randint(0, 255) for _ in range(r2.randint(0, 8)))
    if k == "frozenset":
        return frozenset(r2.choice([r2.randint(-9, 9), r2.choice(["a", "b", "\u00e9"])]) for _ in range(r2.randint(0, 4)))
    if k == "set_strs":
        return {rand_key(r2) + r2.choice(["", "x", "\u65e5"]) for _ in range(r2.randint(0, 6))}
    if k == "int_edge":
        return r2.choice([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1])
    if k == "real_imag":
        return {"real": r2.choice([r2.randint(-5, 5), r2.uniform(-5, 5), "x", None]), "imag": r2.choice([r2.randint(-5, 5), float("nan")])}
    if k == "complex_nan":
        return complex(r2.choice([float("nan"), 1.0]), r2.choice([float("nan"), float("inf"), -2.0]))
    if k == "bytes":
        return r2.choice([b"\xff", b"ok", "\u00e9".encode(), b"\xe6\x97", bytes(r2.randint(0, 255) for _ in range(4))])
    if k == "intenum":
        return r2.choice([Level.LOW, Level.HIGH])
    if k == "surrogate":
        return r2.choice(["\ud800", "x\udfff"])
    if k == "timedelta":
        return dt.timedelta(seconds=r2.randint(-10**6, 10**6))
    return chain(r2.choice(["dict", "list"]), max(1, r2.randint(58, 70) - depth), r2.choice(["leaf", 1, None]))


def spice(v, r2, depth=0):
    """Mixes 0.6 leaves into a random value: into some dicts and lists, in
    place of a few scalars."""
    if isinstance(v, dict):
        out = {k: spice(x, r2, depth + 1) for k, x in v.items()}
        if r2.random() < 0.3:
            out[rand_key(r2) or "x06"] = leaf06(r2, depth + 1)
        return out
    if isinstance(v, list):
        out = [spice(x, r2, depth + 1) for x in v]
        if r2.random() < 0.3:
            out.insert(r2.randint(0, len(out)), leaf06(r2, depth + 1))
        return out
    if isinstance(v, tuple):
        return tuple(spice(x, r2, depth + 1) for x in v)
    if (v is None or isinstance(v, (bool, int, float, str, bytes, dt.date, complex))) and not isinstance(v, enum.Enum):
        if r2.random() < 0.1:
            return leaf06(r2, depth)
    return v


# ---------------------------------------------------------------- backends
UTC = dt.timezone.utc
RUN_ID = "run-1"
STATE_TEMPLATE = {  # every WorkflowState field of flujo 0.6.11, as save_state receives them
    "run_id": RUN_ID, "pipeline_id": "pipe-1", "pipeline_name": "demo", "pipeline_version": "1.0",
    "current_step_index": 2, "pipeline_context": None,
    "last_step_output": {"text": "ok", "tokens": (1, 2, 3)},
    "step_history": [{"name": "step0", "success": True, "output": "ok", "attempts": 1}],
    "status": "running",
    "created_at": dt.datetime(2025, 7, 1, 12, 0, 0, 120000, tzinfo=UTC),
    "updated_at": dt.datetime(2025, 7, 1, 12, 0, 5, tzinfo=UTC),
    "error_message": None, "metadata": {"source": "oracle"}, "is_background_task": False,
    "parent_run_id": None, "task_id": None, "background_error": None,
}


def err(e):
    return f"{type(e).__name__}: {e}"


class Runner:
    def __init__(self, scratch):
        self.file_dir = os.path.join(scratch, "file")
        self.db_path = os.path.join(scratch, "state.db")
        self.file = FileBackend(pathlib.Path(self.file_dir))
        self.sqlite = SQLiteBackend(pathlib.Path(self.db_path))

    async def backend_case(self, backend, state, stored):
        out = {}
        await backend.delete_state(RUN_ID)
        try:
            await backend.save_state(RUN_ID, state)
            out["save"] = "ok"
        except Exception as e:
            out["save"] = err(e)
        kept = stored()
        if kept is not None:
            out["stored"] = kept
        try:
            out["loaded"] = typed6(await backend.load_state(RUN_ID))
        except Exception as e:
            out["load_error"] = err(e)
        return out

    def file_text(self):
        path = os.path.join(self.file_dir, RUN_ID + ".json")
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read().decode("utf-8")
        return None

    def sqlite_row(self):
        con = sqlite3.connect(self.db_path)
        try:
            cur = con.execute("SELECT * FROM workflow_state WHERE run_id = ?", (RUN_ID,))
            row = cur.fetchone()
            return None if row is None else {d[0]: typed6(x) for d, x in zip(cur.description, row)}
        finally:
            con.close()

    async def record(self, name, value):
        rec = {"name": name, "input": typed6(value)}
        for key, fn in (("serialize_file", flujo_serialize_file), ("serialize_strict", flujo_serialize_strict)):
            try:
                rec[key] = typed6(fn(value))
            except Exception as e:
                rec[key + "_error"] = err(e)
        state = dict(STATE_TEMPLATE, pipeline_context={"v": value})
        memory = InMemoryBackend()
        rec["memory"] = await self.backend_case(memory, state, lambda: typed6(memory._store[RUN_ID]) if RUN_ID in memory._store else None)
        rec["file"] = await self.backend_case(self.file, state, self.file_text)
        rec["sqlite"] = await self.backend_case(self.sqlite, state, self.sqlite_row)
        return rec


async def amain(out, seed, n_random, with_fixed):
    os.makedirs(out, exist_ok=True)
    assert set(STATE_TEMPLATE) == set(WorkflowState.model_fields), "STATE_TEMPLATE must hold WorkflowState's fields"
    r = random.Random(seed)
    r2 = random.Random(f"gen_oracle06:{seed}")
    scratch = tempfile.mkdtemp(prefix="gen_oracle06-")
    meta = {"flujo": md.version("flujo"), "python": platform.python_version(), "unicode": unicodedata.unidata_version,
            "seed": seed, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED"),
            "state_template": typed6({**STATE_TEMPLATE, "pipeline_context": {"v": "<VALUE>"}})}
    n = 0
    try:
        runner = Runner(scratch)
        cases = list(fixed_cases().items()) if with_fixed else []
        for i in range(n_random):
            v = {"v": rand_value(r)}
            if r2.random() < 0.5:
                v = spice(v, r2)
            cases.append((f"random06_{seed}_{i}", v))
        with open(os.path.join(out, "values.jsonl"), "w") as f:
            f.write(json.dumps({"meta": meta}, sort_keys=True) + "\n")
            for name, v in cases:
                f.write(json.dumps(await runner.record(name, v), sort_keys=True) + "\n")
                n += 1
        await runner.sqlite.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(n, "value cases ->", out)


def main():
    args = [a for a in sys.argv[1:] if a != "--no-fixed"]
    if len(args) != 3:
        sys.exit(__doc__)
    if md.version("flujo") != FLUJO_VERSION:
        sys.exit(f"flujo=={FLUJO_VERSION} required, found {md.version('flujo')}")
    asyncio.run(amain(args[0], int(args[1]), int(args[2]), "--no-fixed" not in sys.argv))


if __name__ == "__main__":
    main()
