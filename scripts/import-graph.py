#!/usr/bin/env python3
"""Module import graph of a Rust crate's src/, and its circles.

An edge A -> B means module A names module B outside its tests: a `use` of
`crate::B…`, `super::B…` or `self::B…`, a path written inline
(`crate::dsn::clean_address`), or, in a parent module, a child's path
(`postfix::Postfix` in lhost/mod.rs). Items re-exported by a parent are
counted against the parent (`super::Decoder` in lhost/x1.rs is an edge to
lhost). Circles are the graph's strongly connected components of more than
one module, each printed with the edges inside it, and the pairs of modules that import
each other (the shortest circles).

Usage: scripts/import-graph.py [crates/rebound-decode/src] [--edges]
       scripts/import-graph.py --all    (one summary line per crate)
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loc import mask  # noqa: E402


def module_of(path: Path, src: Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts) or "crate"


def strip(text: str) -> str:
    """The source without comments, string literals and its test module.

    Literals and comments are blanked by `loc.py`'s lexer: a regex for raw
    strings also matched the `r"` that ends a word in quotes (`"error"`),
    swallowing code up to the next quote and the paths in it."""
    text = mask(text)
    cut = re.search(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{", text)
    if cut:
        text = text[: cut.start()]
    return text


def use_paths(text: str):
    """Every path a `use` declaration names, with its groups expanded."""
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        yield from expand(re.sub(r"\s+", "", m.group(1)))


def expand(tree: str):
    brace = tree.find("{")
    if brace < 0:
        yield tree.split(" as ")[0]
        return
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    depth, start = 0, 0
    for i, c in enumerate(inner + ","):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            item = inner[start:i]
            start = i + 1
            if item:
                yield from expand(prefix + item)


def resolve(module: str, path: str, modules: set, is_dir: bool):
    """The module a path lands in (the deepest existing module on it)."""
    parts = path.split("::")
    here = [] if module == "crate" else module.split("::")
    # A file module's `super` is its parent; a mod.rs's `self` is itself.
    if parts[0] == "crate":
        base, rest = [], parts[1:]
    elif parts[0] == "super":
        base = here[:-1]
        rest = parts[1:]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif parts[0] == "self":
        base, rest = here, parts[1:]
    elif is_dir and "::".join(here + parts[:1]) in modules:
        base, rest = here, parts
    else:
        return None
    best = "::".join(base) or "crate"
    for i in range(len(rest)):
        candidate = "::".join(base + rest[: i + 1])
        if candidate in modules:
            best = candidate
        else:
            break
    return best


def graph(src: Path):
    files = {module_of(p, src): p for p in sorted(src.rglob("*.rs"))}
    modules = set(files)
    edges = {m: set() for m in modules}
    for module, path in files.items():
        text = strip(path.read_text())
        is_dir = path.name in ("mod.rs", "lib.rs", "main.rs")
        paths = list(use_paths(text))
        paths += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", text)
        if is_dir:
            children = {m.split("::")[-1] for m in modules if m.rsplit("::", 1)[0] == module
                        or (module == "crate" and "::" not in m)}
            paths += [p for p in re.findall(r"(?<![:\w])(\w+(?:::\w+)+)", text)
                      if p.split("::")[0] in children]
        for p in paths:
            target = resolve(module, p, modules, is_dir)
            if target and target != module:
                edges[module].add(target)
    return edges


def circles(edges):
    """Tarjan's strongly connected components of more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
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
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def report(src: Path, show_edges: bool):
    edges = graph(src)
    if show_edges:
        for m in sorted(edges):
            print(f"{m} -> {', '.join(sorted(edges[m])) or '-'}")
    found = circles(edges)
    print(f"{len(edges)} modules, {sum(len(e) for e in edges.values())} edges, "
          f"{len(found)} circle(s)")
    mutual = sorted((a, b) for a in edges for b in edges[a] if a < b and a in edges[b])
    print(f"{len(mutual)} pair(s) importing each other: "
          + (", ".join(f"{a} <-> {b}" for a, b in mutual) or "none"))
    for comp in found:
        inside = set(comp)
        print(f"circle of {len(comp)}: {' '.join(comp)}")
        for m in comp:
            back = sorted(edges[m] & inside)
            print(f"    {m} -> {', '.join(back)}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--all" in sys.argv:
        for crate in sorted(p for p in Path("crates").iterdir() if (p / "src").is_dir()):
            print(f"== {crate.name}: ", end="")
            report(crate / "src", "--edges" in sys.argv)
        sys.exit(0)
    src = Path(args[0] if args else "crates/rebound-decode/src")
    if (src / "src").is_dir():
        src = src / "src"
    report(src, "--edges" in sys.argv)
    sys.exit(0)


if __name__ == "__main__":
    main()
