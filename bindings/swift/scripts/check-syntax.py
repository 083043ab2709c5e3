#!/usr/bin/env python3
"""Checks that Swift files parse, for machines without a Swift compiler.

Usage: check-syntax.py FILE.swift...

Parses each file with tree-sitter-swift and prints every ERROR or MISSING
node as FILE:LINE:COLUMN. Exits 1 if any file has one, 2 on bad usage.

Lines that hold only a compiler directive (`#if swift(>=5.8)`, `#else`,
`#endif`, ...) are blanked first, keeping line numbers: grammar 0.7.4
reports false errors on some of them, and the code on both branches must
parse anyway.

A few constructs that are valid Swift but that grammar 0.7.4 cannot parse
are rewritten to equivalent Swift first (see GRAMMAR_GAPS); each rewrite
keeps the line count.
"""

import re
import sys

import tree_sitter
import tree_sitter_swift

DIRECTIVE = re.compile(rb"^\s*#(if|elseif|else|endif)\b.*$")

# (pattern, replacement): valid Swift the grammar rejects -> equivalent Swift.
GRAMMAR_GAPS = [
    # A closure whose body is the empty tuple, as UniFFI writes for `Void`
    # returns: `{ () }` means `{ Void() }`.
    (re.compile(rb"\{ \(\) \}"), b"{ Void() }"),
]


def prepare(source: bytes) -> bytes:
    lines = source.split(b"\n")
    source = b"\n".join(b"" if DIRECTIVE.match(line) else line for line in lines)
    for pattern, replacement in GRAMMAR_GAPS:
        source = pattern.sub(replacement, source)
    return source


def problems(tree):
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            yield node
            continue
        if node.has_error:
            stack.extend(reversed(node.children))


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    failed = 0
    for path in paths:
        with open(path, "rb") as f:
            source = prepare(f.read())
        tree = parser.parse(source)
        found = list(problems(tree))
        for node in found:
            line, column = node.start_point
            kind = "missing " + node.type if node.is_missing else "syntax error"
            snippet = source.split(b"\n")[line].decode("utf-8", "replace").strip()
            print(f"{path}:{line + 1}:{column + 1}: {kind}: {snippet[:100]}")
        if found:
            failed += 1
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
