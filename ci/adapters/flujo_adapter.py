#!/usr/bin/env python3
"""Speak the stateharness external backend protocol, version 1
(docs/protocol.md), for any flujo ``StateBackend`` class.

Usage:

    python3 ci/adapters/flujo_adapter.py MODULE:CLASS [JSON_KWARGS]
            [--kwargs-env VAR | --kwargs-file FILE]
            [--capabilities LIST] [--types MODULE] [--no-fork]

Run it with a Python that has flujo installed (``ci/flujo-venv.sh`` makes
one and prints its path). It imports CLASS from MODULE (``MODULE:A.B`` for a
nested attribute), constructs it with JSON_KWARGS (a JSON object, default
``{}``; or the JSON text of the environment variable ``--kwargs-env VAR`` or
of ``--kwargs-file FILE``, which keeps a secret such as a database password
off the command line) and answers protocol requests, one JSON line each, on stdin/stdout.
The current directory and this file's directory are put on ``sys.path``
first, so ``ci.redis_recipe_backend:RedisRecipeBackend`` works from the
repository root and ``--types example_types`` works from anywhere.

The backends of flujo 0.4.35 (all three are ``async`` and take no other
constructor parameters):

    flujo.state.backends.memory:InMemoryBackend   InMemoryBackend()
    flujo.state.backends.file:FileBackend         FileBackend(path: Path)
    flujo.state.backends.sqlite:SQLiteBackend     SQLiteBackend(db_path: Path)

(``flujo.state:InMemoryBackend`` and so on name the same classes.) A
string given for a parameter annotated ``Path`` is turned into a
``pathlib.Path`` (flujo would accept the string too: both call ``Path(...)``
themselves). Examples, from the repository root:

    PY=$(bash ci/flujo-venv.sh)
    $PY ci/adapters/flujo_adapter.py flujo.state.backends.memory:InMemoryBackend
    $PY ci/adapters/flujo_adapter.py flujo.state.backends.file:FileBackend \\
        '{"path": "/tmp/flujo-files"}' --capabilities concurrent,persistent
    $PY ci/adapters/flujo_adapter.py flujo.state.backends.sqlite:SQLiteBackend \\
        '{"db_path": "/tmp/flujo.db"}' --capabilities concurrent,persistent
    $PY ci/adapters/flujo_adapter.py ci.redis_recipe_backend:RedisRecipeBackend \\
        '{"url": "redis://127.0.0.1:6379/0"}' --capabilities concurrent,persistent

Options:

  --capabilities LIST  comma-separated capabilities announced in ``hello``:
                       ``concurrent`` (requests run as concurrent asyncio
                       tasks, answers in any order; without it requests are
                       handled one at a time, in order), ``persistent`` (what
                       was saved survives a restart: only claim it when
                       true), ``shared`` (several processes may use one
                       storage at once: the suite runs a second adapter on
                       it). ``list`` and ``list_prefix`` are added by
                       themselves when the class has a listing method
                       (below).
  --types MODULE       a module of your own types, imported after the
                       standard test types (below).
  --no-fork            do not announce ``fork`` (below): every restart the
                       harness makes starts Python and imports flujo anew.

Operations (docs/protocol.md):

  hello     ``{"name": "MODULE:CLASS", "protocol": 1, "capabilities": [...],
            "custom_types": {"Money": {"samples": [...]}, ...},
            "python": "3.12.1", "unicode": "15.0.0", "flujo": "0.4.35",
            "storage_root": "/abs/dir", "pid": 4242}``: the Python running flujo and its
            Unicode database decide how ``repr`` writes dict keys, so the
            harness models that Python. ``storage_root`` is the directory
            the backend keeps its data in, for flujo's FileBackend (its
            ``path``) and SQLiteBackend (the directory of its ``db_path``);
            absent for other classes.
  save      materialises the typed JSON state (docs/typed-json.md) into
            real Python values and awaits ``backend.save_state(run_id,
            state)``.
  load      awaits ``backend.load_state(run_id)``; for each ``types`` hint
            ``{json_pointer: type_name}`` the value at that pointer is
            replaced with ``flujo.utils.serialization.safe_deserialize(value,
            TYPE)`` (RFC 6901 pointers, ``~1`` is ``/`` and ``~0`` is ``~``;
            a pointer to nothing is ignored); the result is encoded back to
            typed JSON as it really came back (a datetime that came back as
            a string is answered as a string).
  delete    awaits ``backend.delete_state(run_id)``.
  list      the run ids, from the first listing method the class has, in
            this order: ``list_run_ids()`` (a list of str, a convention for
            your own backends), ``list_states()`` and ``list_workflows()``
            (flujo's: lists of dicts with ``run_id``; the base class's
            ``list_workflows`` that only raises NotImplementedError does not
            count). In flujo 0.4.35 only SQLiteBackend has one
            (``list_states``; ``list_runs`` reads the separate ``runs`` table
            of run history, not stored states, and is not used).
            With ``prefix`` (a string), only the ids that start with it,
            compared as text (capability ``list_prefix``). Otherwise the
            answer is ``not_supported_op``.
  shutdown  waits for requests in flight, closes the backend (``aclose()``
            or ``close()``, awaited when they are coroutines), answers null
            and exits 0. End of input does the same without the answer.
  fork      ``{"socket": PATH}``, only to a fork source (below): answers
            ``{"pid": N}``, N a fresh copy of this process serving the
            protocol on the Unix socket PATH.

Forking (capability ``fork``, announced unless ``--no-fork``): a restart
costs no Python start-up and no flujo import. A process whose first request
is ``hello`` with ``"fork_source": true`` becomes a fork source: it never
constructs the backend, serves ``hello``, ``fork`` and ``shutdown`` one at
a time with no thread and no event loop running (so ``os.fork`` is safe),
and reaps its children. Each ``fork`` makes a child that connects to PATH,
makes that connection its stdin and its protocol output, and then runs
exactly as a freshly started adapter: its own event loop, the backend
constructed anew (its storage opened afresh), a ``hello`` with its own
``pid``. Its log lines (stderr, shared with the fork source) carry its pid.
At end of input or ``shutdown`` a fork source waits up to 5 s for its
children to exit, then exits 0.

Errors: an exception becomes ``{"kind": K, "message": "Type: text"}`` with K
``invalid_run_id`` for ValueError (and UnicodeEncodeError; the message names
the real type) but ``internal`` for json.JSONDecodeError and
UnicodeDecodeError, which come from stored data that is corrupt, not from
the run id (a check must fail on them, not accept a refusal), ``unsupported`` for
TypeError (flujo's "Object of type UUID is not serializable", and a value of
a type name the adapter does not know), ``not_supported_op`` for
NotImplementedError and unknown ops, ``internal`` for anything else and for
malformed requests (a line that is not JSON is answered with ``id`` null
unless an id can still be read from it).

Typed JSON: the standard test types of docs/typed-json.md are defined
here, exactly as ci/oracle/gen_oracle.py defines them: ``Color`` (Enum
RED=1, GREEN="green"), ``Level`` (IntEnum LOW=1, HIGH=2), ``Point``
(dataclass x: int, y: float, tags: tuple = ()), ``User`` (pydantic model
name: str, joined: datetime, score: float = 0.0, avatar: bytes = b"") and
``Money`` (custom type amount: str, currency: str, with a flujo custom
serializer returning ``{"amount", "currency"}`` and a custom deserializer,
both registered when this adapter starts, so they are in force for the
backend too). ``$model`` values are built with ``model_construct`` (no
validation: the values stay exactly as sent); ``$custom`` values with
``cls(**fields)`` (falling back to the registered custom deserializer when
the constructor refuses the fields); ``$callable`` is the builtin of that
name (``len``) or else a function whose ``__name__`` is the name.

Your own types (``--types MODULE``): the module registers its own flujo
(de)serializers when imported and defines

    STATEHARNESS_TYPES = {"Name": cls, ...}        # required
    STATEHARNESS_SAMPLES = {"Name": [instance, ...]}  # optional

``$custom``/``$dataclass``/``$model``/``$enum`` values with those names are
materialised as those classes; a value of a class with a registered custom
serializer is encoded ``{"$custom": {"type": Name, "fields": ...}}`` with
the serializer's result as ``fields``. The samples go into ``hello``'s
``custom_types`` (a type without samples is left out). A name may not
repeat a standard type's. See ci/adapters/example_types.py (a
``Temperature`` custom type):

    $PY ci/adapters/flujo_adapter.py flujo.state.backends.memory:InMemoryBackend \\
        --types example_types

Only stdout carries protocol lines: the real stdout is kept for them and
file descriptor 1 is pointed at stderr before flujo is imported (flujo's
fallback logger writes INFO records to ``sys.stdout``). Logs go to stderr.
The exit status is 0 after ``shutdown`` or end of input, 2 when the class
cannot be imported or constructed (the reason on stderr).
"""

import argparse
import asyncio
import base64
import builtins
import dataclasses
import datetime as dt
import decimal
import enum
import inspect
import json
import logging
import os
import pathlib
import re
import signal
import socket
import sys
import threading
import time
import traceback
import typing
import uuid

PROTOCOL = 1

# --------------------------------------------------------------- stdout guard
# Keep the real stdout for protocol lines only; everything else that writes to
# file descriptor 1 or sys.stdout (flujo's logger, stray prints, C libraries)
# lands on stderr. main() does it after parsing the arguments (so --help
# still prints to stdout) and before importing flujo.
_PROTO_FD = -1
_WRITE_LOCK = threading.Lock()


def _guard_stdout():
    global _PROTO_FD
    sys.stdout.flush()
    _PROTO_FD = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


log = logging.getLogger("flujo_adapter")


def _setup_logging(who="flujo_adapter"):
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{who}: %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


# --------------------------------------------------------------- errors
class AdapterError(Exception):
    """A malformed request or typed value: answered as `internal`."""


class TypedJSONError(AdapterError):
    """A typed JSON value that cannot be materialised."""


class UnknownTypeError(TypeError):
    """A type name the adapter does not know: answered as `unsupported`."""


def error_kind(e):
    if isinstance(e, AdapterError):
        return "internal"
    # ValueErrors both, but raised reading a corrupt stored state.
    if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)):
        return "internal"
    if isinstance(e, NotImplementedError):
        return "not_supported_op"
    if isinstance(e, ValueError):
        return "invalid_run_id"
    if isinstance(e, TypeError):
        return "unsupported"
    return "internal"


def error_message(e):
    return f"{type(e).__name__}: {e}"


# --------------------------------------------------------------- adapter limits
# Python 3.11 refuses int <-> str conversions over 4300 digits, and its
# recursion limit (1000 frames) stops a state nested a few hundred levels
# deep. The adapter's own work (reading and writing protocol lines, turning
# typed JSON into values and back) runs with both limits lifted, so that a
# failure is the backend's and not the adapter's; the backend's own code runs
# with Python's defaults. The limits are global: they are lifted only around
# synchronous code of the event loop thread (no backend coroutine runs
# meanwhile), though a backend's worker thread that happens to run then sees
# them lifted too.
_get_digits = getattr(sys, "get_int_max_str_digits", None)
_set_digits = getattr(sys, "set_int_max_str_digits", None)
ADAPTER_RECURSION_LIMIT = 20000


class roomy:
    """Lifts the int-digit and recursion limits for the adapter's own work."""

    def __enter__(self):
        self.digits = _get_digits() if _get_digits else None
        if _set_digits:
            _set_digits(0)
        self.recursion = sys.getrecursionlimit()
        sys.setrecursionlimit(max(self.recursion, ADAPTER_RECURSION_LIMIT))
        return self

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.recursion)
        if _set_digits:
            _set_digits(self.digits)
        return False


# --------------------------------------------------------------- types
TYPES = {}  # name -> class (standard test types, then the user's)
CUSTOM = {}  # name -> class: types encoded as $custom
SAMPLES = {}  # name -> [instances]
ser = None  # flujo.utils.serialization, set by load_flujo()
_BaseModel = None  # pydantic.BaseModel, set by load_flujo()


def load_flujo():
    """Imports flujo and defines the standard test types (as gen_oracle.py)."""
    global ser, _BaseModel
    from pydantic import BaseModel
    import flujo.utils.serialization as serialization

    ser = serialization
    _BaseModel = BaseModel

    class Color(enum.Enum):
        RED = 1
        GREEN = "green"

    class Level(enum.IntEnum):
        LOW = 1
        HIGH = 2

    @dataclasses.dataclass
    class Point:
        x: int
        y: float
        tags: tuple = ()

    class User(BaseModel):
        name: str
        joined: dt.datetime
        score: float = 0.0
        avatar: bytes = b""

    class Money:
        def __init__(self, amount: str, currency: str):
            self.amount = amount
            self.currency = currency

        def __eq__(self, other):
            return isinstance(other, Money) and (self.amount, self.currency) == (other.amount, other.currency)

        def __repr__(self):
            return f"Money({self.amount!r}, {self.currency!r})"

    serialization.register_custom_serializer(Money, lambda m: {"amount": m.amount, "currency": m.currency})
    serialization.register_custom_deserializer(Money, lambda d: Money(d["amount"], d["currency"]))

    for cls in (Color, Level, Point, User, Money):
        TYPES[cls.__name__] = cls
    CUSTOM["Money"] = Money
    SAMPLES["Money"] = [Money("12.50", "USD"), Money("0.01", "EUR"), Money("1000000", "JPY"), Money("", "")]


def load_user_types(module_name):
    module = _import_module(module_name)
    types = getattr(module, "STATEHARNESS_TYPES", None)
    if not isinstance(types, dict) or not all(isinstance(k, str) and isinstance(v, type) for k, v in types.items()):
        raise SystemExit(f"flujo_adapter: {module_name} must define STATEHARNESS_TYPES = {{'Name': class, ...}}")
    samples = getattr(module, "STATEHARNESS_SAMPLES", {}) or {}
    if not isinstance(samples, dict):
        raise SystemExit(f"flujo_adapter: STATEHARNESS_SAMPLES in {module_name} must be a dict of lists")
    for name, cls in types.items():
        if name in TYPES:
            raise SystemExit(f"flujo_adapter: {module_name} defines {name!r}, a standard test type's name")
        TYPES[name] = cls
        is_enum = isinstance(cls, type) and issubclass(cls, enum.Enum)
        if not is_enum and _has_serializer(cls):
            CUSTOM[name] = cls
    for name, values in samples.items():
        if name not in types:
            log.warning("STATEHARNESS_SAMPLES names %r, which is not in STATEHARNESS_TYPES: ignored", name)
            continue
        SAMPLES[name] = list(values)
    for name in types:
        if name not in SAMPLES:
            log.info("type %r has no samples: not announced in hello", name)
    log.info("user types from %s: %s", module_name, ", ".join(types))


def _has_serializer(cls):
    reg = getattr(ser, "_custom_serializers", {})
    return cls in reg or any(isinstance(base, type) and issubclass(cls, base) for base in reg)


def _import_module(name):
    import importlib

    return importlib.import_module(name)


def _type(name, kind):
    cls = TYPES.get(name)
    if cls is None:
        raise UnknownTypeError(f"unknown {kind} type {name!r} (known: {', '.join(sorted(TYPES))}; add yours with --types)")
    return cls


# --------------------------------------------------------------- typed JSON -> Python
_FLOATS = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def _float_part(x):
    if isinstance(x, dict) and len(x) == 1 and "$float" in x:
        return _FLOATS[x["$float"]]
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypedJSONError(f"a complex part must be a number, got {x!r}")
    return float(x)


def _callable(name):
    if not isinstance(name, str):
        raise TypedJSONError(f"$callable needs a name, got {name!r}")
    found = getattr(builtins, name, None)
    if found is not None and callable(found) and getattr(found, "__name__", None) == name:
        return found

    def function(*args, **kwargs):
        raise NotImplementedError(f"stand-in for callable {name!r}")

    function.__name__ = name
    function.__qualname__ = name
    return function


class OrderedSet(set):
    """A set that iterates in the order of its typed JSON array.

    Python's own order depends on hashes (randomised for str), but flujo
    sorts a set by ``str()`` of each element with a stable sort, so elements
    with equal ``str()`` (``1`` and ``"1"``) keep the set's iteration order;
    the harness takes the array's order as that order (docs/format.md,
    rule 12). Only iteration is changed; it is a real ``set``.
    """

    def __init__(self, items=()):
        items = list(items)
        super().__init__(items)
        self._order = _first_occurrences(items)

    def __iter__(self):
        if len(self._order) != len(self) or any(item not in self for item in self._order):
            return super().__iter__()  # changed since it was built: the plain order
        return iter(self._order)


def _first_occurrences(items):
    """The distinct items in order of first appearance (set equality)."""
    order, seen = [], set()
    for item in items:
        if item not in seen:
            seen.add(item)
            order.append(item)
    return order


class OrderedFrozenSet(frozenset):
    """A frozenset that iterates in the order of its typed JSON array (see OrderedSet)."""

    def __new__(cls, items=()):
        items = list(items)
        self = super().__new__(cls, items)
        self._order = _first_occurrences(items)
        return self

    def __iter__(self):
        return iter(self._order)


def _hashable_list(items):
    return [materialise(x) for x in items]


def _tag(tag, x):
    if tag == "$float":
        if x not in _FLOATS:
            raise TypedJSONError(f"$float must be nan, inf or -inf, got {x!r}")
        return _FLOATS[x]
    if tag in ("$bytes", "$bytearray"):
        if not isinstance(x, str):
            raise TypedJSONError(f"{tag} needs base64 text")
        raw = base64.b64decode(x.encode("ascii"), validate=True)
        return raw if tag == "$bytes" else bytearray(raw)
    if tag == "$datetime":
        return dt.datetime.fromisoformat(x)
    if tag == "$date":
        return dt.date.fromisoformat(x)
    if tag == "$time":
        return dt.time.fromisoformat(x)
    if tag == "$uuid":
        return uuid.UUID(x)
    if tag == "$decimal":
        if not isinstance(x, str):
            raise TypedJSONError("$decimal needs text")
        return decimal.Decimal(x)
    if tag == "$complex":
        if not isinstance(x, list) or len(x) != 2:
            raise TypedJSONError("$complex needs [real, imag]")
        return complex(_float_part(x[0]), _float_part(x[1]))
    if tag in ("$tuple", "$set", "$frozenset", "$dict"):
        if not isinstance(x, list):
            raise TypedJSONError(f"{tag} needs an array")
        if tag == "$tuple":
            return tuple(materialise(e) for e in x)
        if tag == "$set":
            return OrderedSet(_hashable_list(x))
        if tag == "$frozenset":
            return OrderedFrozenSet(_hashable_list(x))
        out = {}
        for pair in x:
            if not isinstance(pair, list) or len(pair) != 2:
                raise TypedJSONError("$dict needs [key, value] pairs")
            out[materialise(pair[0])] = materialise(pair[1])
        return out
    if tag == "$callable":
        return _callable(x)
    if tag in ("$enum", "$dataclass", "$model", "$custom"):
        if not isinstance(x, dict) or not isinstance(x.get("type"), str):
            raise TypedJSONError(f"{tag} needs an object with a `type`")
        kind = tag[1:]
        cls = _type(x["type"], kind)
        if tag == "$enum":
            if not issubclass(cls, enum.Enum):
                raise UnknownTypeError(f"{x['type']!r} is not an Enum")
            return cls(materialise(x.get("value")))
        fields = x.get("fields", {})
        if not isinstance(fields, dict):
            raise TypedJSONError(f"{tag} `fields` must be an object")
        fields = {k: materialise(v) for k, v in fields.items()}
        if tag == "$model":
            if not hasattr(cls, "model_construct"):
                raise UnknownTypeError(f"{x['type']!r} is not a pydantic model")
            return cls.model_construct(**fields)
        if tag == "$dataclass":
            if not dataclasses.is_dataclass(cls):
                raise UnknownTypeError(f"{x['type']!r} is not a dataclass")
            return cls(**fields)
        try:
            return cls(**fields)
        except TypeError:
            deserializer = ser.lookup_custom_deserializer(cls)
            if deserializer is None:
                raise
            return deserializer(fields)
    raise TypedJSONError(f"unknown tag {tag!r}")


def materialise(v):
    """Typed JSON (docs/typed-json.md) -> a Python value."""
    if v is None or isinstance(v, (bool, str, int, float)):
        return v
    if isinstance(v, list):
        return [materialise(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (key, x), = v.items()
            if key.startswith("$"):
                try:
                    return _tag(key, x)
                except (UnknownTypeError, AdapterError, RecursionError):
                    raise
                except Exception as e:  # bad text in a tag: a malformed request
                    raise TypedJSONError(f"bad {key} value {x!r:.200}: {type(e).__name__}: {e}") from e
        return {k: materialise(x) for k, x in v.items()}
    raise TypedJSONError(f"not a typed JSON value: {v!r:.200}")


# --------------------------------------------------------------- Python -> typed JSON
def _fl(x):
    if x != x:
        return {"$float": "nan"}
    if x in (float("inf"), float("-inf")):
        return {"$float": "inf" if x > 0 else "-inf"}
    return x


class EncodeError(AdapterError):
    pass


_CUSTOM_BY_TYPE = {}  # type -> custom type name or None, filled as values are met


def _custom_name(v):
    t = type(v)
    if t not in _CUSTOM_BY_TYPE:
        name = next((n for n, cls in CUSTOM.items() if t is cls), None)
        if name is None:
            name = next((n for n, cls in CUSTOM.items() if issubclass(t, cls)), None)
        _CUSTOM_BY_TYPE[t] = name
    return _CUSTOM_BY_TYPE[t]


def _custom_fields(v):
    serializer = ser.lookup_custom_serializer(v)
    result = serializer(v) if serializer is not None else None
    if not isinstance(result, dict) or not all(isinstance(k, str) for k in result):
        raise EncodeError(f"the custom serializer of {type(v).__name__} must return a dict with string keys, got {result!r:.200}")
    return {k: typed(x) for k, x in result.items()}


_PLAIN = frozenset([int, float, list, dict, tuple, bytes, set, frozenset])


def typed(v):
    """A Python value -> typed JSON (the inverse of materialise; as gen_oracle's typed())."""
    if v is None or type(v) in (bool, str):
        return v
    if CUSTOM and type(v) not in _PLAIN:
        name = _custom_name(v)
        if name is not None:
            return {"$custom": {"type": name, "fields": _custom_fields(v)}}
    if isinstance(v, enum.Enum):  # before str and int: str- and int-based enums too
        return {"$enum": {"type": type(v).__name__, "value": typed(v.value)}}
    if isinstance(v, (bool, str)):
        return bool(v) if isinstance(v, bool) else str(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return _fl(float(v))
    if isinstance(v, bytearray):
        return {"$bytearray": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (bytes, memoryview)):
        return {"$bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, dt.datetime):
        return {"$datetime": v.isoformat()}
    if isinstance(v, dt.date):
        return {"$date": v.isoformat()}
    if isinstance(v, dt.time):
        return {"$time": v.isoformat()}
    if isinstance(v, uuid.UUID):
        return {"$uuid": str(v)}
    if isinstance(v, decimal.Decimal):
        return {"$decimal": str(v)}
    if isinstance(v, complex):
        return {"$complex": [_fl(v.real), _fl(v.imag)]}
    if isinstance(v, tuple):
        return {"$tuple": [typed(x) for x in v]}
    if isinstance(v, list):
        return [typed(x) for x in v]
    if isinstance(v, frozenset):
        return {"$frozenset": [typed(x) for x in v]}
    if isinstance(v, set):
        return {"$set": [typed(x) for x in v]}
    if isinstance(v, dict):
        plain = all(isinstance(k, str) for k in v) and not (len(v) == 1 and next(iter(v)).startswith("$"))
        if plain:
            return {str(k): typed(x) for k, x in v.items()}
        return {"$dict": [[typed(k), typed(x)] for k, x in v.items()]}
    if _BaseModel is not None and isinstance(v, _BaseModel):
        return {"$model": {"type": type(v).__name__, "fields": {k: typed(getattr(v, k)) for k in type(v).model_fields}}}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {"$dataclass": {"type": type(v).__name__, "fields": {f.name: typed(getattr(v, f.name)) for f in dataclasses.fields(v)}}}
    if callable(v):
        return {"$callable": getattr(v, "__name__", repr(v))}
    raise EncodeError(f"no typed JSON form for a value of type {type(v).__name__}")


# --------------------------------------------------------------- JSON pointers
def _pointer_tokens(pointer):
    if not isinstance(pointer, str):
        raise AdapterError(f"a `types` path must be a string, got {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise AdapterError(f"a `types` path must be a JSON pointer starting with '/', got {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container, token):
    """The key or index `token` names in `container`, or None when there is none."""
    if isinstance(container, dict):
        return token if token in container else None
    if isinstance(container, list) and re.fullmatch(r"0|[1-9][0-9]*", token):
        i = int(token)
        return i if i < len(container) else None
    return None


def apply_hints(state, hints):
    for pointer, type_name in hints.items():
        if not isinstance(type_name, str):
            raise AdapterError(f"a `types` value must be a type name, got {type_name!r}")
        cls = TYPES.get(type_name)
        if cls is None:
            raise AdapterError(f"unknown type name {type_name!r} in `types` (known: {', '.join(sorted(TYPES))})")
        tokens = _pointer_tokens(pointer)
        if not tokens:
            state = ser.safe_deserialize(state, cls)
            continue
        parent = state
        for token in tokens[:-1]:
            key = _index(parent, token)
            if key is None:
                parent = None
                break
            parent = parent[key]
        if parent is None:
            continue
        key = _index(parent, tokens[-1])
        if key is None:
            continue
        parent[key] = ser.safe_deserialize(parent[key], cls)
    return state


# --------------------------------------------------------------- backend
def _wants_path(annotation):
    if annotation is inspect.Parameter.empty:
        return False
    if isinstance(annotation, str):
        return re.search(r"\b(pathlib\.)?Path\b", annotation) is not None and "PathLike" not in annotation
    if annotation is pathlib.Path:
        return True
    return any(_wants_path(a) for a in typing.get_args(annotation))


def construct(cls, kwargs):
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:
        hints = {}
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    args = {}
    for name, value in kwargs.items():
        annotation = hints.get(name, params[name].annotation if name in params else inspect.Parameter.empty)
        if isinstance(value, str) and _wants_path(annotation):
            value = pathlib.Path(value)
        args[name] = value
    return cls(**args)


async def _maybe_await(value):
    if inspect.isawaitable(value):
        return await value
    return value


LISTERS = ("list_run_ids", "list_states", "list_workflows")


def find_lister(cls):
    try:
        from flujo.state.backends.base import StateBackend
    except Exception:  # pragma: no cover - flujo always has it
        StateBackend = None
    for name in LISTERS:
        method = getattr(cls, name, None)
        if method is None or not callable(method):
            continue
        if StateBackend is not None and method is getattr(StateBackend, name, None):
            continue  # the base class's: raises NotImplementedError
        return name
    return None


def storage_root(backend):
    """The absolute directory flujo's FileBackend or SQLiteBackend keeps its
    data in, for ``hello``; None for any other class."""
    try:
        from flujo.state.backends.file import FileBackend
        from flujo.state.backends.sqlite import SQLiteBackend
    except Exception:  # pragma: no cover - flujo always has them
        return None
    if isinstance(backend, FileBackend):
        path = getattr(backend, "path", None)
    elif isinstance(backend, SQLiteBackend):
        db_path = getattr(backend, "db_path", None)
        path = os.path.dirname(os.path.abspath(db_path)) if db_path is not None else None
    else:
        path = None
    return os.path.abspath(path) if path is not None else None


def runtime():
    """The Python, its Unicode database, the flujo version and
    ``PYTHONHASHSEED`` (``"random"`` when unset), for ``hello``."""
    import importlib.metadata
    import platform
    import unicodedata

    try:
        flujo_version = importlib.metadata.version("flujo")
    except importlib.metadata.PackageNotFoundError:
        flujo_version = None
    # flujo 0.6 writes sets in iteration order, which for str follows the
    # hash seed: reported so that such a verdict can be replayed.
    hash_seed = os.environ.get("PYTHONHASHSEED") or "random"
    return {"python": platform.python_version(), "unicode": unicodedata.unidata_version, "flujo": flujo_version, "hash_seed": hash_seed}


def announced_capabilities(name, cls, given, fork):
    """The capabilities ``hello`` announces: those given, ``list`` and
    ``list_prefix`` when the class has a listing method, ``fork`` unless
    ``--no-fork``. Decided from the class, so that a fork source (which
    constructs no backend) announces what its children will."""
    lister = find_lister(cls)
    caps = list(given)
    if lister and "list" not in caps:
        caps.append("list")
    if lister and "list_prefix" not in caps:
        caps.append("list_prefix")  # op_list filters by the prefix itself
    if "list" in caps and not lister:
        log.warning("capability `list` given but %s has no listing method: list answers not_supported_op", name)
    if fork and "fork" not in caps:
        caps.append("fork")
    return caps


def hello_answer(req, name, capabilities, root):
    """The ``hello`` result; ``root`` is the storage root, or None."""
    if req.get("protocol") != PROTOCOL:
        log.warning("the harness speaks protocol %r; this adapter speaks %d", req.get("protocol"), PROTOCOL)
    custom = {}
    for type_name, values in SAMPLES.items():
        samples = []
        for value in values:
            try:
                samples.append(typed(value))
            except Exception as e:
                log.warning("sample %r of %s has no typed form: %s", value, type_name, error_message(e))
        if samples:
            custom[type_name] = {"samples": samples}
    hello = {"name": name, "protocol": PROTOCOL, "capabilities": capabilities, "custom_types": custom, **runtime(), "pid": os.getpid()}
    if root is not None:
        hello["storage_root"] = root
    return hello


class Adapter:
    def __init__(self, name, backend, capabilities):
        self.name = name
        self.backend = backend
        self.lister = find_lister(type(backend))
        self.capabilities = capabilities

    async def op_hello(self, req):
        return hello_answer(req, self.name, self.capabilities, storage_root(self.backend))

    async def op_save(self, req):
        run_id = _run_id(req)
        if "state" not in req:
            raise AdapterError("save needs `state`")
        with roomy():
            state = materialise(req["state"])
        await _maybe_await(self.backend.save_state(run_id, state))
        return None

    async def op_load(self, req):
        run_id = _run_id(req)
        hints = req.get("types") or {}
        if not isinstance(hints, dict):
            raise AdapterError("`types` must be an object {json_pointer: type_name}")
        state = await _maybe_await(self.backend.load_state(run_id))
        if state is None:
            return None
        if hints:
            state = apply_hints(state, hints)
        with roomy():
            return typed(state)

    async def op_delete(self, req):
        await _maybe_await(self.backend.delete_state(_run_id(req)))
        return None

    async def op_list(self, req):
        if self.lister is None:
            raise NotImplementedError(f"{self.name} has no listing method ({', '.join(LISTERS)})")
        prefix = req.get("prefix")
        if prefix is not None and not isinstance(prefix, str):
            raise AdapterError(f"`prefix` must be a string, got {prefix!r:.100}")
        items = await _maybe_await(getattr(self.backend, self.lister)())
        ids = []
        for item in items:
            if isinstance(item, str):
                ids.append(item)
            elif isinstance(item, dict) and isinstance(item.get("run_id"), str):
                ids.append(item["run_id"])
            else:
                raise AdapterError(f"{self.lister}() returned an item without a run id: {item!r:.200}")
        # Plain text comparison: `_` and `%` are no wildcards here.
        return ids if prefix is None else [run_id for run_id in ids if run_id.startswith(prefix)]

    async def close(self):
        for name in ("aclose", "close"):
            method = getattr(self.backend, name, None)
            if callable(method):
                try:
                    await _maybe_await(method())
                except Exception as e:
                    log.warning("%s.%s() failed: %s", self.name, name, error_message(e))
                return

    async def answer(self, rid, req):
        """Runs one request and writes its response line."""
        op = req.get("op")
        handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        try:
            if handler is None:
                raise NotImplementedError(f"unknown op {op!r}")
            result = await handler(req)
            response = {"id": rid, "ok": True, "result": result}
        except Exception as e:
            response = _failure(rid, e)
            if error_kind(e) == "internal" and not isinstance(e, AdapterError):
                log.error("%s %s failed:\n%s", op, req.get("run_id", ""), traceback.format_exc().rstrip())
        write(response)


def _run_id(req):
    run_id = req.get("run_id")
    if not isinstance(run_id, str):
        raise AdapterError("the request needs a string `run_id`")
    return run_id


def _failure(rid, e):
    return {"id": rid, "ok": False, "error": {"kind": error_kind(e), "message": error_message(e)}}


def write(response):
    try:
        with roomy():
            line = json.dumps(response, ensure_ascii=True, allow_nan=False)
    except Exception as e:
        log.error("cannot write the response to %r: %s", response.get("id"), error_message(e))
        line = json.dumps(_failure(response.get("id"), AdapterError(f"the response cannot be written as JSON: {error_message(e)}")))
    data = (line + "\n").encode("ascii")
    with _WRITE_LOCK:
        view = memoryview(data)
        try:
            while view:
                n = os.write(_PROTO_FD, view)
                view = view[n:]
        except ConnectionError:  # a closed pipe, or a forked child's socket reset
            log.error("stdout is closed: the harness is gone; exiting")
            sys.stderr.flush()
            os._exit(1)


_ID_PREFIX = re.compile(rb'^\s*\{\s*"id"\s*:\s*(-?[0-9]+)\s*[,}]')


def parse_request(raw):
    """One input line -> (id, request dict) or (id, exception)."""
    try:
        text = raw.decode("utf-8")
        with roomy():
            req = json.loads(text)
    except Exception as e:
        m = _ID_PREFIX.match(raw)
        return (int(m.group(1)) if m else None), AdapterError(f"malformed request line: {error_message(e)}")
    if not isinstance(req, dict):
        return None, AdapterError("a request must be a JSON object")
    rid = req.get("id")
    if isinstance(rid, bool) or not isinstance(rid, int):
        return None, AdapterError(f"a request needs an integer `id`, got {rid!r:.100}")
    return rid, req


def _reader(loop, queue, source):
    try:
        for line in source:
            loop.call_soon_threadsafe(queue.put_nowait, line)
    except Exception as e:  # pragma: no cover
        log.error("reading stdin: %s", error_message(e))
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def serve(name, cls, kwargs, capabilities, source, first):
    """Serves the requests read from ``source`` (a binary file), ``first``
    (a line already read from it, or b"") first."""
    try:
        backend = construct(cls, kwargs)
    except Exception:
        log.error("cannot construct %s(**%s):\n%s", name, json.dumps(kwargs), traceback.format_exc().rstrip())
        return 2
    adapter = Adapter(name, backend, capabilities)
    concurrent = "concurrent" in capabilities
    log.info("serving %s, capabilities %s", name, adapter.capabilities)

    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    if first:
        queue.put_nowait(first)
    threading.Thread(target=_reader, args=(loop, queue, source), daemon=True, name="stdin").start()
    pending = set()
    while True:
        raw = await queue.get()
        if raw is None:
            break
        if not raw.strip():
            continue
        rid, req = parse_request(raw)
        if isinstance(req, Exception):
            log.error("%s: %.300r", req, raw)
            write(_failure(rid, req))
            continue
        if req.get("op") == "shutdown":
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await adapter.close()
            write({"id": rid, "ok": True, "result": None})
            log.info("shutdown")
            return 0
        if concurrent and req.get("op") != "hello":
            task = asyncio.create_task(adapter.answer(rid, req))
            pending.add(task)
            task.add_done_callback(pending.discard)
        else:
            await adapter.answer(rid, req)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    await adapter.close()
    log.info("end of input")
    return 0


# --------------------------------------------------------------- fork source
FORK_GRACE = 5.0  # seconds a fork source waits for its children when it ends


def asks_fork_source(raw):
    """Whether the first request line is ``hello`` with ``fork_source``."""
    _, req = parse_request(raw)
    return isinstance(req, dict) and req.get("op") == "hello" and req.get("fork_source") is True


def serve_forks(first, name, capabilities, serve_child):
    """A fork source's loop: ``hello``, ``fork`` and ``shutdown``, one at a
    time. No thread and no event loop runs here, so ``os.fork`` copies a
    process with nothing half-done; the backend is never constructed here,
    so each child constructs its own."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they exit
    children = set()
    raw = first
    while raw:
        rid, req = parse_request(raw) if raw.strip() else (None, None)
        op = req.get("op") if isinstance(req, dict) else None
        if isinstance(req, Exception):
            write(_failure(rid, req))
        elif op == "shutdown":
            write({"id": rid, "ok": True, "result": None})
            break
        elif op == "hello":
            write({"id": rid, "ok": True, "result": hello_answer(req, name, capabilities, None)})
        elif op == "fork":
            path = req.get("socket")
            if isinstance(path, str):
                children = {pid for pid in children if _alive(pid)}
                pid = fork_child(lambda: serve_child(path))
                children.add(pid)
                write({"id": rid, "ok": True, "result": {"pid": pid}})
            else:
                write(_failure(rid, AdapterError(f"fork needs a string `socket`, got {path!r:.100}")))
        elif req is not None:
            write(_failure(rid, NotImplementedError(f"a fork source answers only hello, fork and shutdown, not {op!r}")))
        raw = sys.stdin.buffer.readline()
    deadline = time.monotonic() + FORK_GRACE
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = sorted(pid for pid in children if _alive(pid))
    if left:
        log.warning("fork source: children %s still run after %.0f s; leaving them", left, FORK_GRACE)
    return 0


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def fork_child(serve_child):
    """Forks; the child runs ``serve_child()`` and exits with its status,
    never returning here."""
    pid = os.fork()
    if pid:
        return pid
    status = 2
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        status = serve_child()
    except BaseException:
        log.error("forked child:\n%s", traceback.format_exc().rstrip())
    finally:
        sys.stderr.flush()
        os._exit(status)


def serve_on_socket(path, name, cls, kwargs, capabilities):
    """A forked child: connects to the harness's socket at ``path``, makes
    it its stdin and its protocol output, and serves as a new process."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    os.dup2(connection.fileno(), 0)
    os.dup2(connection.fileno(), _PROTO_FD)
    connection.close()
    _setup_logging(f"flujo_adapter[{os.getpid()}]")
    source = open(0, "rb", closefd=False)  # not sys.stdin: its buffer is the fork source's
    return asyncio.run(serve(name, cls, kwargs, capabilities, source, b""))


def import_target(target):
    import importlib

    if ":" not in target:
        raise SystemExit(f"flujo_adapter: the backend must be MODULE:CLASS, got {target!r}")
    module_name, _, attr = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        log.warning("%s is not a class; calling it anyway", target)
    return obj


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="flujo_adapter.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s MODULE:CLASS [JSON_KWARGS] [--capabilities LIST] [--types MODULE] [--no-fork]",
    )
    parser.add_argument("target", metavar="MODULE:CLASS", help="the StateBackend class")
    parser.add_argument("kwargs", metavar="JSON_KWARGS", nargs="?", default="{}", help="constructor arguments, a JSON object")
    parser.add_argument("--kwargs-env", metavar="VAR", help="read JSON_KWARGS from the environment variable VAR (keeps secrets off the command line)")
    parser.add_argument("--kwargs-file", metavar="FILE", help="read JSON_KWARGS from FILE")
    parser.add_argument("--capabilities", default="", metavar="LIST", help="comma-separated: concurrent, persistent, shared (list is detected)")
    parser.add_argument("--types", metavar="MODULE", help="a module of your own types (STATEHARNESS_TYPES, STATEHARNESS_SAMPLES)")
    parser.add_argument("--no-fork", action="store_true", help="do not announce `fork`: every restart starts Python anew")
    return parser.parse_args(argv)


def read_kwargs(args):
    """The constructor arguments' JSON text, from the variable, the file or the command line."""
    if args.kwargs_env:
        return os.environ[args.kwargs_env]
    if args.kwargs_file:
        with open(args.kwargs_file, encoding="utf-8") as f:
            return f.read()
    return args.kwargs


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)  # --help prints to the real stdout
    sys.dont_write_bytecode = True  # no __pycache__ left in the caller's checkout
    _guard_stdout()
    _setup_logging()
    try:
        kwargs = json.loads(read_kwargs(args))
    except (OSError, KeyError) as e:
        log.error("cannot read the constructor arguments: %r", e)
        return 2
    except ValueError as e:
        log.error("JSON_KWARGS is not JSON: %s", e)
        return 2
    if not isinstance(kwargs, dict):
        log.error("JSON_KWARGS must be a JSON object, got a %s", type(kwargs).__name__)
        return 2
    capabilities = [c.strip() for c in args.capabilities.split(",") if c.strip()]
    for c in capabilities:
        if c not in ("concurrent", "persistent", "list", "list_prefix", "shared", "fork"):
            log.warning("unknown capability %r announced as given", c)
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in (here, os.getcwd()):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    try:
        load_flujo()
        if args.types:
            load_user_types(args.types)
        cls = import_target(args.target)
    except SystemExit as e:
        log.error("%s", e)
        return 2
    except Exception as e:
        log.error("cannot import:\n%s", traceback.format_exc().rstrip())
        if isinstance(e, ModuleNotFoundError) and e.name in ("flujo", "pydantic", "redis"):
            log.error("%s runs without %s: use the Python that `bash ci/flujo-venv.sh` prints", sys.executable, e.name)
        return 2
    capabilities = announced_capabilities(args.target, cls, capabilities, fork=not args.no_fork)
    first = sys.stdin.buffer.readline()
    if "fork" in capabilities and asks_fork_source(first):
        return serve_forks(first, args.target, capabilities, lambda path: serve_on_socket(path, args.target, cls, kwargs, capabilities))
    return asyncio.run(serve(args.target, cls, kwargs, capabilities, sys.stdin.buffer, first))


if __name__ == "__main__":
    status = main()
    sys.stderr.flush()
    os._exit(status)
