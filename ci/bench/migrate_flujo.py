"""The legacy-dump migration done the way a Python operator would do it with
flujo 0.4.35: the baseline that `benches/migrate_speed/` times
`stateharness migrate` against.

Usage: python migrate_flujo.py SRC_DIR OUT_DIR

For each SRC_DIR/*.json (in name order, one process):

  1. read the bytes and decode them with pyjson5 (JSON5 is a superset of the
     three legacy shapes: orjson dumps, Python json with NaN/Infinity,
     hand-edited files); pyjson5 refuses a few valid inputs (a number out of
     float range such as 1e400), and those fall back to the pure-Python
     json5 package, counted;
  2. convert as flujo's FileBackend saves: json.dumps(safe_serialize(value),
     sort_keys=True), which is flujo's own serialize_to_json (kept apart here
     because step 4 needs the safe value);
  3. write it as the FileBackend does, durably: a new temp file in OUT_DIR,
     fsync, rename onto OUT_DIR/NAME, fsync the directory;
  4. verify: read the file back, check the bytes, json.loads them and compare
     with the safe value, and load them as flujo's FileBackend.load_state
     does (safe_deserialize).

A file that fails any step is counted and named (at most 20 are shown); the
others go on. The last line of stdout is machine-readable:

  RESULT files=N written=W failed=F json5_fallback=J import_s=X loop_s=Y

import_s is the time to import flujo and the parsers (part of the Python job's
cost, reported apart); loop_s is the migration loop alone. Exit status 0 when
every file was migrated and verified, 1 otherwise, 2 on bad usage.
"""
import os
import sys
import time

_started = time.perf_counter()

import json  # noqa: E402

import json5  # noqa: E402
import pyjson5  # noqa: E402
from flujo.utils.serialization import safe_deserialize, safe_serialize  # noqa: E402

_imported = time.perf_counter()

MAX_SHOWN = 20


def decode(raw, counts):
    """The legacy file's value; pyjson5 first, json5 when pyjson5 refuses."""
    try:
        return pyjson5.decode_utf8(raw)
    except pyjson5.Json5Exception:
        counts["json5_fallback"] += 1
        return json5.loads(raw.decode("utf-8"))


def write_durably(out_dir, dir_fd, name, text, serial):
    """Temp file, fsync, rename onto NAME, fsync the directory."""
    temp = os.path.join(out_dir, f".{name}.tmp-{os.getpid()}-{serial}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    os.close(fd)
    os.replace(temp, os.path.join(out_dir, name))
    os.fsync(dir_fd)


def migrate_one(src_dir, out_dir, dir_fd, name, serial, counts):
    with open(os.path.join(src_dir, name), "rb") as f:
        raw = f.read()
    safe = safe_serialize(decode(raw, counts))
    text = json.dumps(safe, sort_keys=True).encode()
    write_durably(out_dir, dir_fd, name, text, serial)
    with open(os.path.join(out_dir, name), "rb") as f:
        back = f.read()
    if back != text:
        raise ValueError("the file read back differs from the bytes written")
    loaded = json.loads(back)
    if loaded != safe:
        raise ValueError("the file read back does not parse to the value written")
    safe_deserialize(loaded)


def main(argv):
    if len(argv) != 3:
        print("usage: python migrate_flujo.py SRC_DIR OUT_DIR", file=sys.stderr)
        return 2
    src_dir, out_dir = argv[1], argv[2]
    loop_started = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(n for n in os.listdir(src_dir) if n.endswith(".json"))
    counts = {"written": 0, "failed": 0, "json5_fallback": 0}
    dir_fd = os.open(out_dir, os.O_RDONLY)
    try:
        for serial, name in enumerate(names):
            try:
                migrate_one(src_dir, out_dir, dir_fd, name, serial, counts)
                counts["written"] += 1
            except Exception as e:  # noqa: BLE001 - one bad file must not stop the job
                counts["failed"] += 1
                if counts["failed"] <= MAX_SHOWN:
                    print(f"failed: {name}: {type(e).__name__}: {e}")
    finally:
        os.close(dir_fd)
    loop_s = time.perf_counter() - loop_started
    if counts["failed"] > MAX_SHOWN:
        print(f"... and {counts['failed'] - MAX_SHOWN} more failures")
    print(
        f"RESULT files={len(names)} written={counts['written']} failed={counts['failed']} "
        f"json5_fallback={counts['json5_fallback']} import_s={_imported - _started:.3f} loop_s={loop_s:.3f}"
    )
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
