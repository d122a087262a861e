"""Find .om files, parse them, and group them into catalogs and libraries.

Every file starts with `catalog NAME` or `library NAME`. The files of one
catalog share one scope; `use "path"` (relative to the using file) adds a
library's definitions to it.

Specs are read only inside their roots: the folders given to om (a given
file's folder), widened to the project that holds them. A `use` path or a
symbolic link that leads elsewhere is an error (E014) that names the path
and never reads the file, so that a spec cannot show `/proc/self/environ`
or `~/.ssh` in its diagnostics. Only
regular files are read: a FIFO or a device named `*.om` is an error (E005),
never a hang.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from om_dsl.check.text import check_plain_text_of
from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.limits import MAX_SPEC, InputLimit, read_bytes
from om_dsl.span import Span
from om_dsl.syntax import ast
from om_dsl.syntax.parser import parse_source


class Parsed:
    """One file's parse: its module, and what grouping files into catalogs
    needs of it (header, `use` declarations) and its own diagnostics apart, so
    that a file found in the cache reads and unpickles its module only when a
    check reads it (a catalog found in the cache never does). With a cache,
    also its shape (cache.shape_of: what it says, not where) and its spans'
    positions in a fixed order (cache.dump_tree), which pair up the spans of
    two texts of one shape."""

    def __init__(self, module: ast.Module | None, diagnostics, plain_text, header, uses, stored=None, shown: str = "", reparse=None, shape: str = "", spans: tuple | None = None):
        self._module = module
        self._stored = stored  # () -> (the module pickled without spans, its spans) or None: the cache's, read on first use
        self._shown = shown  # the path its spans are in
        self._reparse = reparse  # should that fail
        self._spans = spans
        self._cached_tree: tuple | None = None
        self.shape = shape
        self.diagnostics = tuple(diagnostics)  # syntax and number diagnostics of the parse
        self.plain_text = tuple(plain_text)  # E013: strings that must be one line of plain text
        self.header = header
        self.uses = tuple(uses)

    @classmethod
    def of(cls, module: ast.Module, diagnostics, shape: str = "", spans: tuple | None = None) -> "Parsed":
        plain: list[Diagnostic] = []
        check_plain_text_of(module, plain)
        return cls(module, diagnostics, plain, module.header, [d for d in module.declarations if isinstance(d, ast.Use)], shape=shape, spans=spans)

    def _tree(self) -> tuple | None:
        if self._stored is not None:
            tree, self._stored = self._stored(), None
            if tree is not None and self._spans is None:
                self._spans = tree[1]
            self._cached_tree = tree
        return self._cached_tree

    @property
    def module(self) -> ast.Module:
        if self._module is None:
            from om_dsl.check.cache import load_tree

            try:
                tree = self._tree()
                if tree is None:
                    raise LookupError("no tree in the cache")
                module = load_tree(tree[0], tree[1], self._shown)
                if not isinstance(module, ast.Module):
                    raise TypeError("not a module")
            except Exception:  # noqa: BLE001 - an entry this om cannot read: the text is still here
                module = self._reparse()
            self._module, self._cached_tree = module, None
        return self._module

    @property
    def spans(self) -> tuple | None:
        """Its spans' positions in dump_tree's order (None without a cache)."""
        if self._spans is None:
            self._tree()
        return self._spans

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def stored_tree(cache, key: str, touch: bool = True) -> tuple | None:
    """The tree entry of the text `key`: (its module pickled without spans, its
    spans' positions), or None when it is gone or unreadable."""
    from om_dsl.check.cache import loads

    payload = cache.get("tree", key, touch=touch)
    if payload is None:
        return None
    try:
        tree, spans = loads(payload)
    except Exception:  # noqa: BLE001 - unreadable: as good as gone
        return None
    # Each position is checked as it becomes a Span (cache.load_tree).
    return (tree, spans) if isinstance(tree, bytes) and isinstance(spans, tuple) else None


def stored_spans(cache, key: str) -> tuple | None:
    """The span positions of a text parsed before (its previous version, when a
    file was edited: reading them does not count as a use, see Cache.get)."""
    tree = stored_tree(cache, key, touch=False)
    return tree[1] if tree is not None else None


@attrs.define
class SourceFile:
    path: str  # as shown in diagnostics: relative to the working directory when inside it
    real_path: Path
    text: str
    parsed: Parsed
    syntax_ok: bool
    fingerprint: str = ""  # with a cache: its entry's key (a hash of its text), part of its catalog's key

    @property
    def module(self) -> ast.Module:
        return self.parsed.module

    @property
    def header(self):
        return self.parsed.header

    @property
    def is_library(self) -> bool:
        return isinstance(self.header, ast.LibraryHeader)


@attrs.define
class Unit:
    """A catalog (or a library checked on its own) and the files that make it."""

    kind: str  # "catalog" or "library"
    name: str
    files: list[SourceFile]
    libraries: list[SourceFile] = attrs.field(factory=list)

    @property
    def all_files(self) -> list[SourceFile]:
        return self.files + [lib for lib in self.libraries if lib not in self.files]

    @property
    def syntax_ok(self) -> bool:
        return all(f.syntax_ok for f in self.all_files)


@attrs.define
class Workspace:
    files: list[SourceFile]
    units: list[Unit]
    diagnostics: list[Diagnostic]
    # Where other files (a catalog's Python task package) may be read from: in-memory texts first, then the roots.
    texts: dict[str, str] | None = None
    roots: list[Path] = attrs.field(factory=list)

    @property
    def sources(self) -> dict[str, str]:
        return {f.path: f.text for f in self.files}


def display_path(path: Path) -> str:
    """Relative to the working directory when inside it, with `/` separators."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
        return rel.as_posix()
    except ValueError:
        return path.as_posix()


def discover(paths: list[str]) -> list[Path]:
    """Every .om file under the given files and folders, sorted, each once."""
    found: dict[Path, Path] = {}
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.endswith(".om"):
                        f = Path(root) / name
                        found.setdefault(f.resolve(), f)
        else:
            found.setdefault(p.resolve(), p)
    return sorted(found.values(), key=lambda f: display_path(f))


def _file_span(path: str) -> Span:
    return Span(path, 1, 1, 1, 2, 0, 1)


PROJECT_MARKERS = ("pyproject.toml", "om.toml")


def roots_of(paths: list[str]) -> list[Path]:
    """The folders specs may be read from: for each given folder (or a given
    file's folder), the project that holds it (the nearest folder above with a
    pyproject.toml or an om.toml, as `om init` makes), else the folder itself."""
    roots = []
    for given in paths:
        p = Path(given)
        folder = p.resolve() if p.is_dir() else p.parent.resolve()
        project = next((f for f in (folder, *folder.parents) if any((f / m).is_file() for m in PROJECT_MARKERS)), None)
        roots.append(project or folder)
    return roots


def _texts_root(texts: dict[str, str]) -> Path:
    """In-memory files: the folder that holds them all."""
    folders = [os.path.dirname(os.path.normpath(name)) or "." for name in texts]
    try:
        return Path(os.path.commonpath(folders) or ".") if folders else Path(".")
    except ValueError:  # absolute and relative names mixed
        return Path(os.sep)


def inside(path: Path, roots: list[Path]) -> bool:
    """Whether `path` (resolved, or normalized for in-memory files) is under one of the roots."""
    for root in roots:
        rel = os.path.relpath(path, root)
        if rel != os.pardir and not rel.startswith(os.pardir + os.sep) and not os.path.isabs(rel):
            return True
    return False


class NotASpec(OSError):
    """A path that is not a regular file of a sane size: never read as a spec."""


def read_regular(path: Path) -> bytes:
    """The bytes of a regular spec file of at most MAX_SPEC (limits.read_bytes:
    a FIFO or a device is refused without waiting on it); NotASpec otherwise."""
    try:
        return read_bytes(path, MAX_SPEC)
    except InputLimit as exc:
        raise NotASpec(str(exc).removeprefix("it is ")) from None


def _outside(shown: str, roots: list[Path]) -> Diagnostic:
    where = ", ".join(f"`{display_path(r)}`" for r in roots)
    return error(
        "E014",
        "this file is a link to a file outside the folders om reads specs from",
        _file_span(shown),
        "not read: specs are read only inside " + where,
    )


def parse_file(text: str, shown: str, cache=None) -> tuple[Parsed, str]:
    """A file's parse and (with a cache) its key: from the cache when this text
    was parsed before by this om (under any path), else parsed now and stored."""
    if cache is None:
        result = parse_source(text, shown)
        return Parsed.of(result.module, result.diagnostics), ""
    from om_dsl.check.cache import digest, dump_tree, dumps, loads, shape_of, warm_parser

    key = digest("file", text)  # not the path: spans are stored without it (cache._Pickler)
    kept = cache.memory.get(shown)  # this process's last parse of this path
    if kept is not None and kept[0] == key:
        return kept[1]
    found = None
    payload = cache.get("file", key)
    if payload is not None:
        try:
            head, shape = loads(payload)
            diags, plain, header, uses = loads(head, shown)
            if not isinstance(shape, str):
                raise TypeError("not a file entry")
            parsed = Parsed(None, diags, plain, header, uses, stored=lambda: stored_tree(cache, key), shown=shown, reparse=lambda: parse_source(text, shown).module, shape=shape)
            cache.touch("tree", key)  # used with its head, read or not: pruned with it
            found = (parsed, key)
        except Exception:  # noqa: BLE001 - an entry this om cannot read: parse again
            found = None
    if found is None:
        warm_parser(cache)
        result = parse_source(text, shown)
        tree, spans = dump_tree(result.module, shown)
        parsed = Parsed.of(result.module, result.diagnostics, shape_of(tree), spans)
        head = dumps((parsed.diagnostics, parsed.plain_text, parsed.header, parsed.uses), shown)
        # Two entries: the tree, read only when a catalog is checked again, and the rest, read on every compile.
        cache.put("tree", key, dumps((tree, spans)))
        cache.put("file", key, dumps((head, parsed.shape)))
        found = (parsed, key)
    cache.remember(shown, (key, found))
    return found


def read_file(path: Path, diagnostics: list[Diagnostic], texts: dict[str, str] | None = None, roots: list[Path] | None = None, cache=None) -> SourceFile | None:
    if texts is not None:
        # In-memory sources (tests, editors): paths are names, nothing touches the disk.
        shown = path.as_posix()
        if shown not in texts:
            return None
        parsed, fingerprint = parse_file(texts[shown], shown, cache)
        diagnostics.extend(parsed.diagnostics)
        return SourceFile(shown, path, texts[shown], parsed, parsed.ok, fingerprint)
    shown = display_path(path)
    real = path.resolve()
    if roots is not None and not inside(real, roots):
        diagnostics.append(_outside(shown, roots))
        return None
    try:
        text = read_regular(real).decode("utf-8-sig")  # a byte-order mark is not text
    except UnicodeDecodeError as exc:
        diagnostics.append(
            error("E005", "this file is not valid UTF-8", _file_span(shown), f"undecodable byte at offset {exc.start}", help="save the file as UTF-8")
        )
        return None
    except NotASpec as exc:
        diagnostics.append(error("E005", f"cannot read this file: {exc}", _file_span(shown), help="a spec is a regular .om file"))
        return None
    except OSError as exc:
        diagnostics.append(error("E005", f"cannot read this file: {exc.strerror or exc}", _file_span(shown)))
        return None
    text = text.replace("\r\n", "\n")
    parsed, fingerprint = parse_file(text, shown, cache)
    diagnostics.extend(parsed.diagnostics)
    return SourceFile(shown, real, text, parsed, parsed.ok, fingerprint)


def load(paths: list[str], texts: dict[str, str] | None = None, cache=None) -> Workspace:
    """Load the .om files under `paths`, or, given `texts`, those in-memory files
    (parses from `cache`, an om_dsl.check.cache.Cache, when given)."""
    diagnostics: list[Diagnostic] = []
    files: list[SourceFile] = []
    by_real: dict[Path, SourceFile] = {}
    found = [Path(name) for name in sorted(texts) if name.endswith(".om")] if texts is not None else discover(paths)
    roots = [_texts_root(texts)] if texts is not None else roots_of(paths)
    for path in found:
        source = read_file(path, diagnostics, texts, roots if texts is None else None, cache)
        if source is not None:
            files.append(source)
            by_real[source.real_path] = source

    # Libraries named by `use`, loaded on demand when not given on the command line.
    def resolve_use(user: SourceFile, use: ast.Use) -> SourceFile | None:
        if texts is not None:
            target = Path(os.path.normpath(user.real_path.parent / str(use.path.value)))
        else:
            target = (user.real_path.parent / str(use.path.value)).resolve()
        if not inside(target, roots):
            where = ", ".join(f"`{display_path(r) if texts is None else r.as_posix()}`" for r in roots)
            diagnostics.append(
                error(
                    "E014",
                    f"`{use.path.value}` is outside the folders om reads specs from",
                    use.path.span,
                    "not read: specs are read only inside " + where,
                    help="move the library into the project, or give om a folder that holds both this catalog and the library",
                )
            )
            return None
        if target in by_real:
            return by_real[target]
        if texts is not None or not target.exists():
            diagnostics.append(
                error("E012", f"cannot find `{use.path.value}`", use.path.span, "no such file", help="the path is relative to the folder of this file")
            )
            return None
        source = read_file(target, diagnostics, roots=roots, cache=cache)
        if source is not None:
            files.append(source)
            by_real[source.real_path] = source
        return source

    def libraries_of(start: list[SourceFile]) -> list[SourceFile]:
        seen: list[SourceFile] = []
        todo = list(start)
        while todo:
            user = todo.pop(0)
            for decl in user.parsed.uses:
                lib = resolve_use(user, decl)
                if lib is None:
                    continue
                if not lib.is_library:
                    if lib.header is None and lib.syntax_ok:
                        diagnostics.append(
                            error(
                                "E012",
                                f"`{decl.path.value}` is not a library",
                                decl.path.span,
                                "the file does not start with `library NAME`",
                                help="start the used file with `library NAME`",
                            )
                        )
                    if lib.header is not None:
                        diagnostics.append(
                            error(
                                "E012",
                                f"`{decl.path.value}` is a catalog, not a library",
                                decl.path.span,
                                "only a file that starts with `library NAME` can be used",
                                secondary=[(lib.header.span, "this file declares a catalog")],
                            )
                        )
                    continue
                if lib not in seen:
                    seen.append(lib)
                    todo.append(lib)
        return seen

    catalogs: dict[str, list[SourceFile]] = {}
    standalone_libraries: list[SourceFile] = []
    for source in list(files):
        header = source.header
        if isinstance(header, ast.CatalogHeader):
            catalogs.setdefault(header.name.value, []).append(source)
        elif isinstance(header, ast.LibraryHeader):
            standalone_libraries.append(source)
        elif source.syntax_ok:
            diagnostics.append(
                error(
                    "E010",
                    "this file does not say which catalog it belongs to",
                    _file_span(source.path),
                    "expected `catalog NAME` or `library NAME` first",
                    help="start the file with `catalog NAME` (the same NAME in every file of the catalog)",
                )
            )

    units: list[Unit] = []
    used: list[SourceFile] = []
    for name in sorted(catalogs):
        members = catalogs[name]
        libs = libraries_of(members)
        used.extend(libs)
        units.append(Unit("catalog", name, members, libs))
    # A library no catalog uses is still checked, on its own.
    for lib in standalone_libraries:
        if lib not in used:
            units.append(Unit("library", lib.header.name.value, [lib], libraries_of([lib])))
    return Workspace(files, units, diagnostics, texts, roots)
