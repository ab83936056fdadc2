#!/usr/bin/env python3
"""Lines of Rust per crate, and the longest functions.

For each crate under crates/:
  code   lines of src/**/*.rs holding code: not blank, not only a comment,
         outside `#[cfg(test)]` modules;
  tests  lines (code, as above) of `#[cfg(test)]` modules, tests/ and
         benches/;
  total  every line of every .rs file of the crate (src, tests, benches,
         build.rs), comments and blanks included;
  rules  lines of the crate's data files that the code reads as knowledge
         (rebound-classify's rules/**/*.toml), not blank and not comments.

`--long N` also lists the functions of src/ (outside test modules) longer
than N lines, from `fn` to the closing brace, longest first.

Usage: scripts/loc.py [--long 120] [crates/NAME ...]
"""

import re
import sys
from pathlib import Path


def mask(text: str) -> str:
    """The text with comments and the insides of string and char literals
    replaced by spaces (line breaks kept), so braces and `fn` can be found
    by position and comment-only lines are blank."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(text, i)) and (
            i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            close = '"' + m.group(1)
            j = text.find(close, m.end())
            j = n if j < 0 else j + len(close)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2 : j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append('"' + re.sub(r"[^\n]", " ", text[i + 1 : j - 1]) + '"')
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}'), else a lifetime.
            m = re.compile(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'").match(text, i)
            if m:
                out.append("' '" + " " * (m.end() - i - 3))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(masked: str, open_brace: int) -> int:
    depth = 0
    for j in range(open_brace, len(masked)):
        if masked[j] == "{":
            depth += 1
        elif masked[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(masked) - 1


def test_spans(masked: str):
    """(start, end) offsets of `#[cfg(test)]` modules."""
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{", masked):
        yield m.start(), block_end(masked, m.end() - 1)


def count(masked: str) -> int:
    return sum(1 for line in masked.splitlines() if line.strip())


def split_tests(masked: str):
    """(code outside test modules, code inside them), both masked."""
    inside, outside, last = [], [], 0
    for s, e in test_spans(masked):
        outside.append(masked[last:s])
        inside.append(masked[s : e + 1])
        last = e + 1
    outside.append(masked[last:])
    return "".join(outside), "".join(inside)


def functions(path: Path, masked: str):
    """(lines, name) of every fn with a body."""
    for m in re.finditer(r"\bfn\s+(\w+)", masked):
        # The body opens at the first `{` after the signature, unless a `;`
        # (a trait method without a body) comes first.
        j = m.end()
        depth = 0
        while j < len(masked):
            ch = masked[j]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth -= 1
            elif ch == ";" and depth <= 0:
                j = -1
                break
            elif ch == "{" and depth <= 0:
                break
            j += 1
        if j < 0 or j >= len(masked):
            continue
        end = block_end(masked, j)
        lines = masked.count("\n", m.start(), end) + 1
        yield lines, f"{path}:{masked.count(chr(10), 0, m.start()) + 1} {m.group(1)}"


def rule_lines(crate: Path) -> int:
    total = 0
    for p in sorted(crate.glob("rules/**/*.toml")):
        for line in p.read_text().splitlines():
            s = line.strip()
            if s and not s.startswith("#"):
                total += 1
    return total


def main():
    args = sys.argv[1:]
    long_n = None
    if "--long" in args:
        k = args.index("--long")
        long_n = int(args[k + 1])
        del args[k : k + 2]
    crates = [Path(a) for a in args] or sorted(p for p in Path("crates").iterdir() if p.is_dir())
    sums = [0, 0, 0, 0]
    long_fns = []
    print(f"{'crate':<20} {'code':>7} {'tests':>7} {'total':>7} {'rules':>7}")
    for crate in crates:
        code = tests = total = 0
        for p in sorted(crate.rglob("*.rs")):
            if "target" in p.parts:
                continue
            text = p.read_text()
            total += text.count("\n") + (0 if text.endswith("\n") or not text else 1)
            masked = mask(text)
            rel = p.relative_to(crate)
            if rel.parts[0] == "src":
                outside, inside = split_tests(masked)
                code += count(outside)
                tests += count(inside)
                if long_n is not None:
                    for s, e in test_spans(masked):
                        masked = masked[:s] + re.sub(r"[^\n]", " ", masked[s : e + 1]) + masked[e + 1 :]
                    long_fns += [f for f in functions(p, masked) if f[0] > long_n]
            elif rel.parts[0] in ("tests", "benches"):
                tests += count(masked)
            else:
                code += count(masked)  # build.rs
        rules = rule_lines(crate)
        for i, v in enumerate((code, tests, total, rules)):
            sums[i] += v
        print(f"{crate.name:<20} {code:>7} {tests:>7} {total:>7} {rules or '':>7}")
    print(f"{'all':<20} {sums[0]:>7} {sums[1]:>7} {sums[2]:>7} {sums[3]:>7}")
    if long_n is not None:
        print(f"\nfunctions over {long_n} lines:")
        for lines, where in sorted(long_fns, reverse=True):
            print(f"{lines:>5}  {where}")


if __name__ == "__main__":
    main()
