"""One declaration's generated text put into a catalog's generated files: where
its plan.json member, its function or its plans.py definition is, and the
files with the new ones in their place. The compile cache (om_dsl.recompile)
proves each piece on the text before the edit, then splices the new one.
"""

from __future__ import annotations

from typing import Optional

from om_dsl.codegen.pyexpr import Constants
from om_dsl.model.canonical import member_text


class Logged(Constants):
    """A module's constants as they are, and the order in which a function asks for them."""

    def __init__(self, known: list):
        super().__init__()
        for name, source in known:
            self._names[source] = name
            self.lines.append(f"{name} = {source}")
        self.asked: list[str] = []

    def add(self, prefix: str, source: str) -> str:
        self.asked.append(source)
        return super().add(prefix, source)


def definition(module: str, key: str, old, new) -> Optional[tuple]:
    """Where in plans.py's DEFINITIONS (pformat of the plans) the plan KEY is, as OLD
    prints: (start, end, NEW printed); None if not there, or should the layout move."""
    from om_dsl.codegen.emit import one_line_length, pformat_member

    head = "\nDEFINITIONS = {"
    start = module.find(head)
    if start < 0 or len(repr(key)) + 4 + one_line_length(new) <= 110:
        return None  # a dict of plans that could fit on one line: laid out otherwise
    # DEFINITIONS comes after every function: its lines are in no region of the line map.
    line_map = module.find("\nLINE_MAP = (", start)
    if line_map < 0:
        return None
    regions = module[line_map:].split("\n")
    last = regions[-3] if len(regions) > 3 and regions[-3].startswith("    (") else "    (0, 0"
    if int(last.split(",")[1]) >= module.count("\n", 0, start) + 2:
        return None
    old_text = pformat_member(key, old)
    at = start + len(head) if module.startswith(old_text, start + len(head)) else module.find("\n " + old_text, start) + 2
    if at < 2 or module[at + len(old_text)] not in ",}":
        return None
    return at, at + len(old_text), pformat_member(key, new)


def member(plan: str, section: str, key: str, old, new) -> Optional[tuple]:
    """Where in plan.json the member KEY of SECTION is, as OLD prints: (start, end, NEW printed); None if not there."""
    start = plan.find(f'\n  "{section}": {{\n')
    end = plan.find("\n  }", start + 1)
    if start < 0 or end < 0:
        return None
    old_text = "\n" + member_text(key, old, 2)
    at = plan.find(old_text, start, end)
    if at < 0 or plan[at + len(old_text)] not in ",\n":
        return None
    return at, at + len(old_text), "\n" + member_text(key, new, 2)


def members(plan: str, section: str, old: list, new: list) -> Optional[tuple]:
    """Where in plan.json a run of members of SECTION is, as OLD ((key, value), ...,
    sorted) prints: (start, end, NEW printed); None if not there, or if NEW is empty.
    A product's validation rules are such a run: `P.` sorts apart from every other key."""
    start = plan.find(f'\n  "{section}": {{\n')
    end = plan.find("\n  }", start + 1)
    if start < 0 or end < 0 or not old or not new:
        return None
    old_text = "\n" + ",\n".join(member_text(key, value, 2) for key, value in old)
    at = plan.find(old_text, start, end)
    if at < 0 or plan[at + len(old_text)] not in ",\n":
        return None
    return at, at + len(old_text), "\n" + ",\n".join(member_text(key, value, 2) for key, value in new)


def firsts(asked: list) -> list:
    return list(dict.fromkeys(asked))


def markers(text: str) -> list:
    """Where a function's lines and `# @om` markers are: what LINE_MAP is made of."""
    return [(n, line.strip()) for n, line in enumerate(text.split("\n")) if line.lstrip().startswith("# @om ")] + [text.count("\n")]


def replaced(text: str, pieces: list) -> str:
    """TEXT with each (start, end, new text) piece put in; pieces do not overlap."""
    out, at = [], 0
    for start, end, new in sorted(pieces):
        if start < at:
            raise ValueError("overlapping pieces")  # pragma: no cover - each piece is one key's
        out += [text[at:start], new]
        at = end
    return "".join(out) + text[at:]


def proven_function(text: str, name: str, make) -> Optional[tuple]:
    """(start, end, new text, whether its marked lines moved) of function NAME in module
    TEXT, made again after the edit (make(1, constants)), once the same made before it
    (make(0, constants)) is proven to be the text there; None should it not be, or should
    it ask for its constants otherwise."""
    from om_dsl.codegen.emit import constants_of, function_segment

    known = constants_of(text)
    made = []
    for side in (0, 1):
        k = Logged(known)
        made.append((make(side, k), k.asked, len(k.lines) - len(known)))
    where = function_segment(text, name)
    (old_text, old_asked, old_added), (new_text, new_asked, new_added) = made
    # Constants are numbered in the order the module first asks for them: each function's first asks must stay.
    if where is None or text[where[0] : where[1]] != old_text or firsts(old_asked) != firsts(new_asked) or old_added or new_added:
        return None
    # Its marked lines moved: the module's line map is made again (emit.with_new_line_map).
    return where[0], where[1], new_text, markers(old_text) != markers(new_text)


def proven_functions(text: str, make) -> Optional[list]:
    """[(start, end, new text, whether its marked lines moved)] of the functions MAKE
    gives by name (a plan's, in plans.py) that the edit changed, once each made before
    it is proven to be the text there; None should one not be, or should they ask for
    their constants otherwise."""
    from om_dsl.codegen.emit import constants_of, function_segment

    known = constants_of(text)
    made = []
    for side in (0, 1):
        k = Logged(known)
        made.append((make(side, k), k.asked, len(k.lines) - len(known)))
    (old, old_asked, old_added), (new, new_asked, new_added) = made
    if list(old) != list(new) or firsts(old_asked) != firsts(new_asked) or old_added or new_added:
        return None
    pieces = []
    for name, old_text in old.items():
        where = function_segment(text, name)
        if where is None or text[where[0] : where[1]] != old_text:
            return None
        if new[name] != old_text:
            pieces.append((where[0], where[1], new[name], markers(old_text) != markers(new[name])))
    return pieces


def proven_run(text: str, make) -> Optional[list]:
    """A plan whose tasks were added or taken out, in plans.py: its functions (one run
    of them) and its PLANS entry, as make(side, constants) gives them ((functions by
    name, entry)), once those made before the edit are proven to be the text there:
    [(start, end, new text, whether marked lines moved)], or None."""
    from om_dsl.codegen.emit import constants_of, function_segment

    known = constants_of(text)
    made = []
    for side in (0, 1):
        k = Logged(known)
        made.append((*make(side, k), k.asked, len(k.lines) - len(known)))
    (old, old_entry, old_asked, old_added), (new, new_entry, new_asked, new_added) = made
    if not old or not new or firsts(old_asked) != firsts(new_asked) or old_added or new_added:
        return None
    first = function_segment(text, next(iter(old)))
    run = "".join(old.values())
    if first is None or not text.startswith(run, first[0]) or not text.startswith("\n\n\n", first[0] + len(run)) or text.count(old_entry) != 1:
        return None
    at = text.index(old_entry)
    return [(first[0], first[0] + len(run), "".join(new.values()), True), (at, at + len(old_entry), new_entry, False)]
