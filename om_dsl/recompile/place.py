"""Placing what a cached compile found in an edited file at its new place: the
edited file's spans paired with those of the text before (both parses list
them in one order), its diagnostics and elements moved along, its sha256 anew.
Used after an edit of comments or layout (om_dsl.build) and after a splice.
"""

from __future__ import annotations

import hashlib
from typing import Optional

import attrs

from om_dsl.diagnostics.diagnostic import Diagnostic
from om_dsl.lower import files_root, relative_path
from om_dsl.span import Span


def span_pairs(old: tuple, new: tuple) -> tuple[dict, dict]:
    """Two texts of one shape: each span's start offset in the old one -> (line,
    column, offset) in the new one, and the same for span ends. Spans that start
    together begin with one token, so they do in any layout; should two not
    (a span not made of tokens), the place is None: it cannot be told."""
    starts: dict[int, Optional[tuple]] = {}
    ends: dict[int, Optional[tuple]] = {}
    for o, n in zip(old, new):
        for places, key, place in ((starts, o[4], (n[0], n[1], n[4])), (ends, o[5], (n[2], n[3], n[5]))):
            if places.setdefault(key, place) != place:
                places[key] = None
    return starts, ends


def moved_diagnostic(d: Diagnostic, moves: dict) -> Optional[Diagnostic]:
    labels = []
    for label in d.labels:
        span = label.span
        if span.file in moves:
            starts, ends = moves[span.file]
            start, end = starts.get(span.start), ends.get(span.end)
            if start is None or end is None:
                return None
            span = Span(span.file, start[0], start[1], end[0], end[1], start[2], end[2])
        labels.append(attrs.evolve(label, span=span))
    return attrs.evolve(d, labels=tuple(labels))


def moved_outcome(unit, files, moves: dict, outcome: tuple) -> Optional[tuple]:
    """(sources, digests) of a cached outcome with the elements of `files` (edited:
    `moves` pairs their old spans with their new ones) at their new lines, and their
    new sha256s; None when an element cannot be placed."""
    sources, digests = outcome
    root = files_root(unit.all_files)
    sources, digests = list(sources), dict(digests)
    for f in files:
        starts = moves[f.path][0]
        rel = relative_path(f.real_path, root)
        for i, (element, file, _line, start) in enumerate(sources):
            if file == rel:
                place = starts.get(start)
                if place is None:
                    return None
                sources[i] = (element, file, place[0], place[2])
        if rel not in digests:
            return None
        digests[rel] = "sha256:" + hashlib.sha256(f.text.encode("utf-8")).hexdigest()
    return tuple(sources), tuple(sorted(digests.items()))
