#!/usr/bin/env python3
"""The layering of src/ (DESIGN.md, issue 9), checked from the `use` paths:

- no import circle between modules (a parent and its own children excepted);
- `fhir` and `auth` are leaves: they import nothing else of the crate;
- `config` imports nothing from the domain (registry, service, store, http);
- nothing below `http` imports `http`.

Exits 1 and names the offence; CI runs it (.ci/run). Test modules and the generated STU3
table are not read.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def modules():
    found = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            if not parts or "tests" in parts or parts[-1] == "structure_gen":
                continue
            found["::".join(parts)] = path
    return found


def resolve(mods, current, path):
    segs = path.split("::")
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] == "super":
        base, segs = current.split("::")[:-1], segs[1:]
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
    elif segs[0] == "self":
        base, segs = current.split("::"), segs[1:]
    else:
        return None
    full = base + segs
    while full:
        if "::".join(full) in mods:
            return "::".join(full)
        full = full[:-1]
    return None


def edges(mods):
    out = {m: set() for m in mods}
    for m, path in mods.items():
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
        for hit in re.finditer(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", text):
            t = resolve(mods, m, hit.group(1))
            if t and t != m and not m.startswith(t + "::") and not t.startswith(m + "::"):
                out[m].add(t)
    return out


def cycles(graph):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def under(m, top):
    return m == top or m.startswith(top + "::")


def main():
    mods = modules()
    graph = edges(mods)
    problems = [f"import circle: {' <-> '.join(c)}" for c in cycles(graph)]
    rules = [
        ("fhir", lambda t: not under(t, "fhir"), "a leaf"),
        ("auth", lambda t: not under(t, "auth") and t not in ("log_escape", "error_chain"),
         "a leaf"),
        ("config", lambda t: any(under(t, d) for d in ("registry", "service", "store", "http")),
         "free of the domain"),
    ]
    for top, forbidden, what in rules:
        for m in mods:
            if under(m, top):
                for t in sorted(graph[m]):
                    if forbidden(t):
                        problems.append(f"{m} imports {t}: {top} must stay {what}")
    for m in mods:
        if any(under(m, low) for low in ("service", "registry", "store", "fhir", "auth")):
            for t in sorted(graph[m]):
                if under(t, "http"):
                    problems.append(f"{m} imports {t}: nothing below http knows about http")
    for p in problems:
        print(p)
    print(f"layers: {len(mods)} modules, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
