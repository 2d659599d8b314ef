#!/usr/bin/env python3
"""Lists the library's public API, one item a line, from rustdoc's JSON.

Usage: public_api.py RUSTDOC_JSON > listing

Walks the crate from its root module: every public module, type, trait,
function and constant, the public fields and variants of types, and the
public methods of inherent impls and of traits. An item re-exported from
this crate is listed at the path users name it by (with its fields and
methods); a re-export from another crate is a `pub use` line. Trait
implementations are left out (derives would drown the list). ci/api.sh
compares the listing with ci/public-api.txt, so that a change to the
public API is a deliberate one, shown in review.
"""
import json
import sys


def main(path):
    with open(path) as f:
        doc = json.load(f)
    index = doc["index"]
    lines = set()

    def kind_of(item):
        inner = item.get("inner", {})
        return next(iter(inner)) if isinstance(inner, dict) and inner else str(inner)

    def public(item):
        return item.get("visibility") == "public"

    def public_at_home(item_id):
        """Whether the item is public where it is defined (every module on
        its path public): then it is listed there, and a re-export of it is
        a `pub use` line."""
        home = doc.get("paths", {}).get(str(item_id), {}).get("path", [])
        modules = [index.get(str(i)) for i in module_ids(home[:-1])]
        return bool(home) and all(m is not None and (public(m) or m["id"] == doc["root"]) for m in modules) and public(index[str(item_id)])

    def module_ids(path):
        """The ids of the modules along `path` (crate name first)."""
        ids, current = [], index[str(doc["root"])]
        ids.append(current["id"])
        for name in path[1:]:
            children = [index.get(str(c)) for c in kind_inner(current).get("items", [])]
            current = next((c for c in children if c and kind_of(c) == "module" and c.get("name") == name), None)
            if current is None:
                return ids + [None]
            ids.append(current["id"])
        return ids

    def kind_inner(item):
        kind = kind_of(item)
        return item["inner"][kind] if isinstance(item.get("inner"), dict) else {}

    def walk(item_id, prefix, seen, reexported_as=None):
        if item_id in seen or str(item_id) not in index:
            return
        seen = seen | {item_id}
        item = index[str(item_id)]
        kind = kind_of(item)
        inner = item["inner"][kind] if isinstance(item.get("inner"), dict) else {}
        name = reexported_as or item.get("name")
        if kind == "use":
            if not public(item):
                return
            target = inner.get("id")
            if target is not None and str(target) in index and not inner.get("is_glob") and not public_at_home(target):
                # A re-export of this crate's own item: listed where users
                # name it, with its fields and methods, whatever module
                # (private or not) defines it.
                walk(target, prefix, seen, inner.get("name"))
            else:
                lines.add(f"pub use {prefix}::{inner.get('name')} = {inner.get('source')}")
            return
        if not public(item) and prefix and reexported_as is None:
            return
        path = f"{prefix}::{name}" if prefix else name
        if item.get("attrs") and any("doc(hidden)" in str(a) for a in item["attrs"]):
            return
        lines.add(f"{kind} {path}")
        if kind == "module":
            for child in inner.get("items", []):
                walk(child, path, seen)
        elif kind in ("struct", "enum", "union"):
            fields = inner.get("kind", {})
            if isinstance(fields, dict):
                plain = fields.get("plain", {})
                for field in plain.get("fields", []) if isinstance(plain, dict) else []:
                    walk(field, path, seen)
            for variant in inner.get("variants", []):
                walk(variant, path, seen)
            for impl_id in inner.get("impls", []):
                impl = index.get(str(impl_id))
                if not impl:
                    continue
                body = impl["inner"].get("impl", {})
                if body.get("trait") is None and not body.get("synthetic") and not body.get("blanket_impl"):
                    for method in body.get("items", []):
                        walk(method, path, seen)
        elif kind == "trait":
            for method in inner.get("items", []):
                child = index.get(str(method))
                if child is not None:
                    child_kind = kind_of(child)
                    hidden = any("doc(hidden)" in str(a) for a in child.get("attrs", []))
                    if not hidden:
                        lines.add(f"{child_kind} {path}::{child.get('name')}")
        elif kind == "variant":
            pass

    walk(doc["root"], "", frozenset())
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
