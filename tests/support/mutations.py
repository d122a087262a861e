"""Mutations of spec text for the fuzz tests (tests/test_fuzz.py, tests/test_fmt.py)."""

from __future__ import annotations

# What test_fuzz applies: anything goes.
BASIC = ["delete", "duplicate", "replace", "insert", "swap"]
# Mutations that often keep a file parseable (line breaks, comments, spaces, lines moved).
LAYOUT = ["newline", "comment", "spaces", "duplicate_line", "swap_lines"]


def mutate(text: str, mutations) -> str:
    """Apply (kind, at, length, token) mutations, one after the other."""
    for kind, at, length, token in mutations:
        at %= max(len(text), 1)
        if kind == "delete":
            text = text[:at] + text[at + length :]
        elif kind == "duplicate":
            text = text[:at] + text[at : at + length] + text[at:]
        elif kind == "replace":
            text = text[:at] + token + text[at + len(token) :]
        elif kind == "insert":
            text = text[:at] + " " + token + " " + text[at:]
        elif kind == "newline":
            text = text[:at] + "\n" * (length % 3 + 1) + text[at:]
        elif kind == "comment":
            text = text[:at] + f" # fuzz {length}\n" + text[at:]
        elif kind == "spaces":
            text = text[:at] + " " * (length % 4 + 1) + text[at:]
        elif kind in ("duplicate_line", "swap_lines"):
            lines = text.split("\n")
            i, j = at % len(lines), (at + length) % len(lines)
            if kind == "duplicate_line":
                lines.insert(i, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:  # swap two runs of text
            other = (at + length * 7) % max(len(text), 1)
            a, b = sorted((at, other))
            text = text[:a] + text[b : b + length] + text[a + length : b] + text[a : a + length] + text[b + length :]
    return text
