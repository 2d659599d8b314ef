"""What both generators share: the standard test types of
docs/typed-json.md, typed JSON, and the random value generator (so that a
seed gives the same inputs to gen_oracle.py and gen_oracle06.py). Imports
no flujo: each generator registers Money's serializer with its own flujo.
"""
import base64
import dataclasses
import datetime as dt
import decimal
import enum
import math
import pathlib
import random
import uuid

from pydantic import BaseModel


# ---------------------------------------------------------------- test types
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


class Event(BaseModel):
    """A model with bytes, datetime and timedelta fields (flujo 0.6 cases only)."""
    name: str
    payload: bytes = b""
    at: dt.datetime
    took: dt.timedelta = dt.timedelta(0)


# ---------------------------------------------------------------- typed JSON
def fl(x):
    if math.isnan(x):
        return {"$float": "nan"}
    if math.isinf(x):
        return {"$float": "inf" if x > 0 else "-inf"}
    return x


def typed(v, extended=False, _stack=()):
    """Python value -> typed JSON (docs/typed-json.md). With extended=True
    (gen_oracle06.py) also the tags of values the engine does not model,
    which its vectors mark so that the checker can count them as skipped:
    {"$timedelta": {"days", "seconds", "microseconds"}}, {"$path": text},
    {"$class": name}, {"$object": "object"} and {"$backref": k} (a cycle:
    the k-th enclosing container, 1 = the one holding it)."""
    if extended:
        return _typed_extended(v, _stack)
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, enum.Enum):
        return {"$enum": {"type": type(v).__name__, "value": typed(v.value)}}
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return fl(v)
    if isinstance(v, bytearray):
        return {"$bytearray": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode()}
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
        return {"$complex": [fl(v.real), fl(v.imag)]}
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
            return {k: typed(x) for k, x in v.items()}
        return {"$dict": [[typed(k), typed(x)] for k, x in v.items()]}
    if isinstance(v, Money):
        return {"$custom": {"type": "Money", "fields": {"amount": v.amount, "currency": v.currency}}}
    if isinstance(v, BaseModel):
        return {"$model": {"type": type(v).__name__, "fields": {k: typed(getattr(v, k)) for k in type(v).model_fields}}}
    if dataclasses.is_dataclass(v):
        return {"$dataclass": {"type": type(v).__name__, "fields": {f.name: typed(getattr(v, f.name)) for f in dataclasses.fields(v)}}}
    if callable(v):
        return {"$callable": getattr(v, "__name__", repr(v))}
    raise TypeError(f"no typed form for {type(v)}")


def _typed_extended(v, stack):
    sub = lambda x, inner=stack: typed(x, True, inner)  # noqa: E731
    if isinstance(v, type):
        return {"$class": v.__name__}
    if isinstance(v, dt.timedelta):
        return {"$timedelta": {"days": v.days, "seconds": v.seconds, "microseconds": v.microseconds}}
    if isinstance(v, pathlib.PurePath):
        return {"$path": str(v)}
    if type(v) is object:
        return {"$object": "object"}
    if isinstance(v, (tuple, list, frozenset, set, dict)):
        if id(v) in stack:
            return {"$backref": len(stack) - stack.index(id(v))}
        inner = stack + (id(v),)
        if isinstance(v, tuple):
            return {"$tuple": [sub(x, inner) for x in v]}
        if isinstance(v, list):
            return [sub(x, inner) for x in v]
        if isinstance(v, frozenset):
            return {"$frozenset": [sub(x, inner) for x in v]}
        if isinstance(v, set):
            return {"$set": [sub(x, inner) for x in v]}
        plain = all(isinstance(k, str) for k in v) and not (len(v) == 1 and next(iter(v)).startswith("$"))
        if plain:
            return {k: sub(x, inner) for k, x in v.items()}
        return {"$dict": [[sub(k, inner), sub(x, inner)] for k, x in v.items()]}
    if isinstance(v, BaseModel):
        return {"$model": {"type": type(v).__name__, "fields": {k: sub(getattr(v, k)) for k in type(v).model_fields}}}
    if dataclasses.is_dataclass(v):
        return {"$dataclass": {"type": type(v).__name__, "fields": {f.name: sub(getattr(v, f.name)) for f in dataclasses.fields(v)}}}
    if isinstance(v, enum.Enum):
        return {"$enum": {"type": type(v).__name__, "value": sub(v.value)}}
    return typed(v)


# ---------------------------------------------------------------- random values
def rand_value(r: random.Random, depth=0):
    kinds = ["none", "bool", "int", "bigint", "float", "special", "str", "bytes", "datetime",
             "date", "complex", "enum", "money", "point"]
    if depth < 4:
        kinds += ["list", "tuple", "set", "dict", "dict", "dict_keys", "model"]
    k = r.choice(kinds)
    if k == "none":
        return None
    if k == "bool":
        return r.random() < 0.5
    if k == "int":
        return r.randint(-(2**63), 2**63 - 1) if r.random() < 0.3 else r.randint(-1000, 1000)
    if k == "bigint":
        return r.choice([1, -1]) * r.randint(2**63, 10**30)
    if k == "float":
        return r.choice([r.uniform(-1e6, 1e6), r.random() * 10 ** r.randint(-320, 308), float(r.randint(-5, 5)), -0.0])
    if k == "special":
        return r.choice([float("nan"), float("inf"), float("-inf")])
    if k == "str":
        alphabet = ["a", "Z", "0", " ", "\u00e9", "\u65e5", "\U0001F600", "\x00", "\n", "\"", "\\", "\u2028", "$", "nan", "inf"]
        return "".join(r.choice(alphabet) for _ in range(r.randint(0, 12)))
    if k == "bytes":
        return bytes(r.randint(0, 255) for _ in range(r.randint(0, 20)))
    if k == "datetime":
        d = dt.datetime(r.randint(1, 9999), r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.choice([0, r.randint(0, 999999)]))
        tz = r.choice([None, dt.timezone.utc, dt.timezone(dt.timedelta(minutes=r.randint(-900, 900)))])
        return d.replace(tzinfo=tz)
    if k == "date":
        return dt.date(r.randint(1, 9999), r.randint(1, 12), r.randint(1, 28))
    if k == "complex":
        return complex(r.uniform(-10, 10), r.choice([r.uniform(-10, 10), float("nan"), float("inf")]))
    if k == "enum":
        return r.choice([Color.RED, Color.GREEN, Level.LOW, Level.HIGH])
    if k == "money":
        return Money(str(r.randint(0, 10**6)) + "." + str(r.randint(0, 99)).zfill(2), r.choice(["USD", "EUR", "JPY"]))
    if k == "point":
        return Point(r.randint(-9, 9), r.uniform(-1, 1), tuple(rand_value(r, 4) for _ in range(r.randint(0, 2))))
    n = r.randint(0, 5)
    if k == "list":
        return [rand_value(r, depth + 1) for _ in range(n)]
    if k == "tuple":
        return tuple(rand_value(r, depth + 1) for _ in range(n))
    if k == "set":
        pool = [r.randint(-50, 50), r.choice(["a", "b", "\u00e9", ""]), r.choice([1.5, -0.25]), None, True]
        return set(r.choice(pool) for _ in range(n))
    if k == "dict":
        return {rand_value(r, 99) if False else rand_key(r): rand_value(r, depth + 1) for _ in range(n)}
    if k == "dict_keys":
        return {r.choice([r.randint(-5, 5), None, 2.5, (1, "a"), (r.randint(0, 3), rand_key(r)), Color.RED, rand_key(r)]): rand_value(r, depth + 1) for _ in range(n)}
    if k == "model":
        return User(name=rand_key(r), joined=rand_value_dt(r), score=r.choice([1.0, float("nan"), -2.5]), avatar=bytes(r.randint(0, 255) for _ in range(r.randint(0, 4))))
    raise AssertionError(k)


def rand_value_dt(r):
    return dt.datetime(r.randint(1970, 2100), r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), tzinfo=r.choice([None, dt.timezone.utc]))


def rand_key(r):
    alphabet = ["k", "e", "y", "_", "\u00e9", "\U0001F600", "$", "1", " ", "\U0001e030", "\u0cf3", "\u2ffc", "\U0001cc00"]
    return "".join(r.choice(alphabet) for _ in range(r.randint(0, 6)))
