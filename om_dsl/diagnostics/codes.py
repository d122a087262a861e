"""The registry of diagnostic codes. Codes are stable: never reuse or renumber one.

Each code has a one-line title here and a long explanation, with an example
and its fix, in `explanations/CODE.md` (shown by `om explain CODE`).
"""

from __future__ import annotations

from importlib import resources

CODES: dict[str, str] = {
    # syntax
    "E001": "unexpected token",
    "E002": "unexpected character or unterminated string",
    "E003": "unexpected end of file",
    "E004": "a clause given twice",
    "E005": "a file cannot be read",
    "E006": "an expression nested too deeply",
    "E007": "a number or duration beyond its limit",
    # files and catalogs
    "E010": "a file does not say which catalog it belongs to",
    "E011": "a catalog's version is missing or given twice",
    "E012": "a `use` does not name a library file",
    "E013": "a version, display name or path that is not one line of plain text",
    "E014": "a spec file outside the folders om reads specs from",
    # names
    "E101": "unknown product",
    "E102": "unknown attribute",
    "E103": "unknown table",
    "E104": "unknown system",
    "E105": "unknown operation",
    "E106": "unknown queue",
    "E107": "a dependency on a task no plan defines",
    "E108": "unknown function",
    "E109": "unknown retry policy",
    "E110": "unknown type",
    "E111": "unknown order field",
    "E120": "a name is defined twice",
    # products and attributes
    "E201": "invalid allowed values",
    "E202": "a default outside the allowed values",
    "E203": "a required attribute with a default",
    "E204": "an impossible cardinality",
    "E205": "an invalid child product",
    "E206": "a rule for commercial items names a technical product",
    "E207": "an attribute named after an expression keyword",
    # expressions
    "E301": "mismatched types",
    "E302": "a value outside the allowed values",
    "E303": "wrong arguments to a function",
    "E305": "a relative (parent, children) that does not exist",
    # decomposition
    "E401": "a required target attribute is never mapped",
    "E402": "a mapping to an attribute the target does not have",
    "E403": "a decomposition cycle",
    "E404": "a decomposition target that is not a technical product",
    "E405": "an attribute mapped twice",
    # orchestration
    "E501": "a dependency cycle",
    "E502": "a callout is missing arguments",
    "E503": "an unknown or repeated argument",
    "E504": "a task output the task does not declare",
    "E505": "a task output read before the task is guaranteed to have completed",
    "E506": "a plan for a product that is not technical",
    "E507": "`changed(...)` outside a modify plan",
    "E508": "an invalid Python import path",
    "E509": "an invalid retry policy or duration",
    "E510": "a clause that does not apply to this kind of item",
    # reads across fulfillment lines
    "E521": "a read of another line that cannot be made here",
    "E522": "an ambiguous read of another line: several lines of that product may be in scope",
    "E523": "another line's task read before it is guaranteed to have completed",
    # the catalog's task package, and amend strategies
    "E530": "a task package that cannot be found or used",
    "E531": "an auto task outside the catalog's task package",
    "E532": "an auto task's module or function that does not exist",
    "E533": "an auto task's function that cannot take the arguments given",
    "E534": "`on amend undo_redo` on a task without a compensation",
    # warnings
    "W001": "an unused definition",
    "W002": "a lookup table without an entry for a possible key",
    "W003": "a technical product without a plan",
    "W010": "a product that can be added but not modified or deleted",
    "W011": "a dependency that can never match",
    "W012": "enrichment that reads a child's enriched value before it exists",
}


def explanation(code: str) -> str | None:
    """The long explanation of a code, or None when the code does not exist."""
    code = code.upper()
    if code not in CODES:
        return None
    path = resources.files("om_dsl.diagnostics").joinpath("explanations", f"{code}.md")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"{code}: {CODES[code]}\n"
