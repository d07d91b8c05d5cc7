#!/usr/bin/env python3
"""Lists a crate's public API from its rustdoc JSON, one item a line, sorted.

Usage: public-api.py target/doc/account_updater.json > api/account-updater.txt

Each public path reachable from the crate root (re-exports followed) is listed with its kind:
modules, structs and their public fields, enums and their variants, traits and their items,
functions, methods of inherent impls, trait impls (by trait name), constants, statics, type
aliases and macros. CI regenerates the listing and compares it with the checked-in one, so
every change to the public surface is deliberate: an addition or a removal fails CI until the
listing is updated in the same change.
"""

import json
import sys


def main(path):
    doc = json.load(open(path))
    index = doc["index"]
    paths = doc["paths"]
    out = set()

    def item(i):
        return index.get(str(i))

    def type_name(t):
        if not isinstance(t, dict):
            return "?"
        if "resolved_path" in t:
            return t["resolved_path"]["path"].split("::")[-1]
        if "primitive" in t:
            return t["primitive"]
        if "generic" in t:
            return t["generic"]
        return next(iter(t), "?")

    def impls(owner_path, impl_ids, seen_methods):
        for iid in impl_ids:
            imp = item(iid)
            if imp is None:
                continue
            inner = imp["inner"].get("impl")
            if inner is None or inner.get("is_synthetic") or inner.get("blanket_impl"):
                continue
            trait = inner.get("trait")
            if trait is not None:
                out.add(f"impl {trait['path'].split('::')[-1]} for {owner_path}")
                continue
            for mid in inner.get("items", []):
                m = item(mid)
                if m is None or m.get("visibility") != "public":
                    continue
                kind = next(iter(m["inner"]))
                label = {"function": "fn", "assoc_const": "const", "constant": "const"}.get(kind, kind)
                out.add(f"{label} {owner_path}::{m['name']}")

    def walk(iid, path, seen):
        key = (iid, path)
        if key in seen:
            return
        seen.add(key)
        it = item(iid)
        if it is None:
            # An item of another crate re-exported here.
            out.add(f"reexport {path}")
            return
        kind = next(iter(it["inner"]))
        inner = it["inner"][kind]
        if kind == "module":
            out.add(f"mod {path}")
            for child in inner["items"]:
                c = item(child)
                if c is None:
                    continue
                ckind = next(iter(c["inner"]))
                if ckind == "use":
                    use = c["inner"]["use"]
                    if c.get("visibility") != "public":
                        continue
                    target = use.get("id")
                    if use.get("is_glob"):
                        t = item(target) if target is not None else None
                        if t and "module" in t["inner"]:
                            for g in t["inner"]["module"]["items"]:
                                gi = item(g)
                                if gi is not None and gi.get("visibility") == "public" and gi.get("name"):
                                    walk(g, f"{path}::{gi['name']}", seen)
                        continue
                    if target is None:
                        out.add(f"reexport {path}::{use['name']}")
                    else:
                        walk(target, f"{path}::{use['name']}", seen)
                elif c.get("visibility") == "public" and c.get("name"):
                    walk(child, f"{path}::{c['name']}", seen)
        elif kind == "struct":
            out.add(f"struct {path}")
            fields = inner["kind"].get("plain", {}).get("fields", []) if isinstance(inner["kind"], dict) else []
            for f in fields:
                fi = item(f)
                if fi is not None and fi.get("visibility") == "public":
                    out.add(f"field {path}::{fi['name']}: {type_name(fi['inner']['struct_field'])}")
            impls(path, inner.get("impls", []), seen)
        elif kind == "enum":
            out.add(f"enum {path}")
            for v in inner.get("variants", []):
                vi = item(v)
                if vi is not None:
                    out.add(f"variant {path}::{vi['name']}")
            impls(path, inner.get("impls", []), seen)
        elif kind == "trait":
            out.add(f"trait {path}")
            for t in inner.get("items", []):
                ti = item(t)
                if ti is not None:
                    out.add(f"trait-item {path}::{ti['name']}")
        elif kind == "function":
            out.add(f"fn {path}")
        elif kind in ("constant", "static", "type_alias", "macro", "union", "proc_macro"):
            out.add(f"{kind} {path}")
        else:
            out.add(f"{kind} {path}")

    root = doc["root"]
    name = item(root)["name"]
    walk(root, name, set())
    for line in sorted(out):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
