#!/usr/bin/env python3
"""Lists a crate's public API from its rustdoc JSON, one item a line, sorted.

Usage: public-api.py target/doc/account_updater.json > api/account-updater.txt

Each public path reachable from the crate root (re-exports followed) is listed with its kind:
modules, structs and their public fields (with their types), enums and their variants, traits
and their items, functions and methods of inherent impls (with their signatures: generic
parameters and bounds, argument and return types, async), trait impls (by trait name),
constants, statics, type aliases and macros. CI regenerates the listing and compares it with the checked-in one, so
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

    def ty(t):
        """A type, written out enough that a change to a signature changes the line."""
        if not isinstance(t, dict):
            return "?"
        (k, v), = t.items()
        if k == "resolved_path":
            name = v["path"].split("::")[-1]
            args = v.get("args") or {}
            ab = args.get("angle_bracketed") if isinstance(args, dict) else None
            if ab and ab.get("args"):
                parts = []
                for a in ab["args"]:
                    if "type" in a:
                        parts.append(ty(a["type"]))
                    elif "lifetime" in a:
                        parts.append(a["lifetime"])
                    elif "const" in a:
                        parts.append(str(a["const"].get("expr", "_")))
                for c in ab.get("constraints", []):
                    b = c.get("binding", {})
                    if "equality" in b and "type" in b["equality"]:
                        parts.append(f"{c['name']} = {ty(b['equality']['type'])}")
                name += "<" + ", ".join(parts) + ">"
            return name
        if k == "primitive" or k == "generic":
            return v
        if k == "borrowed_ref":
            lt = (v.get("lifetime") or "") + " " if v.get("lifetime") else ""
            return f"&{lt}{'mut ' if v.get('is_mutable') else ''}{ty(v['type'])}"
        if k == "slice":
            return f"[{ty(v)}]"
        if k == "array":
            return f"[{ty(v['type'])}; {v['len']}]"
        if k == "tuple":
            return "(" + ", ".join(ty(x) for x in v) + ")"
        if k == "raw_pointer":
            return f"*{'mut' if v.get('is_mutable') else 'const'} {ty(v['type'])}"
        if k in ("impl_trait", "dyn_trait"):
            bounds = v if k == "impl_trait" else v.get("traits", [])
            names = []
            for b in bounds:
                tb = b.get("trait_bound", {}).get("trait") if "trait_bound" in b else b.get("trait")
                if tb:
                    names.append(ty({"resolved_path": tb}))
                elif "outlives" in b:
                    names.append(b["outlives"])
            return ("impl " if k == "impl_trait" else "dyn ") + " + ".join(names)
        if k == "qualified_path":
            return f"<{ty(v['self_type'])}>::{v['name']}"
        if k == "function_pointer":
            sig = v.get("sig", {})
            ins = ", ".join(ty(x[1]) for x in sig.get("inputs", []))
            outp = sig.get("output")
            return f"fn({ins})" + (f" -> {ty(outp)}" if outp else "")
        if k == "infer":
            return "_"
        return k

    def signature(fn):
        sig = fn["sig"]
        generics = []
        for g in fn.get("generics", {}).get("params", []):
            kind = g.get("kind", {})
            if "type" in kind:
                bounds = [ty({"resolved_path": b["trait_bound"]["trait"]})
                          for b in kind["type"].get("bounds", []) if "trait_bound" in b]
                generics.append(g["name"] + (": " + " + ".join(bounds) if bounds else ""))
            elif "const" in kind:
                generics.append(f"const {g['name']}")
        args = []
        for name, t in sig["inputs"]:
            if name == "self":
                r = t.get("borrowed_ref") if isinstance(t, dict) else None
                args.append(("&mut self" if r.get("is_mutable") else "&self") if r else "self")
            else:
                args.append(f"{name}: {ty(t)}")
        head = "async " if fn.get("header", {}).get("is_async") else ""
        gen = "<" + ", ".join(generics) + ">" if generics else ""
        out_t = f" -> {ty(sig['output'])}" if sig.get("output") else ""
        return head, f"{gen}({', '.join(args)}){out_t}"

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
                if kind == "function":
                    head, rest = signature(m["inner"]["function"])
                    out.add(f"fn {owner_path}::{m['name']}{rest}" + (" [async]" if head else ""))
                else:
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
                    out.add(f"field {path}::{fi['name']}: {ty(fi['inner']['struct_field'])}")
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
                    if "function" in ti["inner"]:
                        _, rest = signature(ti["inner"]["function"])
                        out.add(f"trait-item {path}::{ti['name']}{rest}")
                    else:
                        out.add(f"trait-item {path}::{ti['name']}")
        elif kind == "function":
            head, rest = signature(inner)
            out.add(f"fn {path}{rest}" + (" [async]" if head else ""))
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
