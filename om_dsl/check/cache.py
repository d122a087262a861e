"""The compile cache: work already done, found again by the content it was done on.

The entries. A *file* entry holds what every compile needs of one .om file's
parse (its header, `use`s, syntax diagnostics and shape), a *tree* entry its
AST, read only when its catalog is checked; both are keyed by the file's text
and the code that parses it (the path it is shown by is left out, and put
back when it is loaded). A tree is stored without its spans' positions, which
are kept beside it in a fixed order (dump_tree): its hash is the file's shape,
what it says and not where. The *unit* and *shape* entries (om_dsl.build) hold
a catalog's check diagnostics, where its elements are, and its generated
files with slots for those places; its *index* entry which file declares
what, for splicing an edit of a rule into that output (om_dsl.recompile). A *grammar* entry holds the parser's
tables. `om compile` and `om lsp` share the one cache directory; `om compile
--no-cache` bypasses it.

Where: `$OM_CACHE_DIR`, else `$XDG_CACHE_HOME/om-dsl`, else `~/.cache/om-dsl`;
never inside a project, so a repository cannot ship entries. Entries are
pickles, which can run code when loaded, so an entry is trusted only when
all of these hold: the directory is ours (created 0700, owned by this user,
not writable by group or others, not a symbolic link); the entry carries an
HMAC-SHA256 under a random key kept in that directory (0600), which also
catches a truncated or corrupted write and an entry copied from another
cache; and the unpickler resolves only AST, span and diagnostic classes.
Anything else is ignored and the work is done again: a cache can make a
compile faster, never different. Keys include a hash of om's own compiler
sources (and the grammar, and the Python version), so entries written by
another version of om, or a working copy with edited code, are never read.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import os
import pickle
import secrets
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from om_dsl.span import Span

ENV = "OM_CACHE_DIR"
_MAGIC = b"om-cache1\n"
_KEY_FILE = "key"
_MEMORY = 4096  # paths whose last parse is kept in memory (the language server re-checks often)
PRUNE_DAYS = 30

# Only these classes may come out of an entry (module -> allowed names; None: every class defined there).
_ALLOWED: dict[str, Optional[frozenset]] = {
    "om_dsl.syntax.ast": None,
    "om_dsl.span": None,
    "om_dsl.diagnostics.diagnostic": None,
    "decimal": frozenset({"Decimal"}),
    "datetime": frozenset({"date"}),
}


def default_dir() -> Path:
    given = os.environ.get(ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "om-dsl"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of everything that decides what an entry holds: the compiler's own
    sources (syntax, check, diagnostics, lower, model, codegen and its
    templates, build), the grammar and the Python version."""
    import om_dsl
    from om_dsl.syntax.grammar import grammar_text

    package = Path(om_dsl.__file__).parent
    h = hashlib.sha256(f"{om_dsl.__version__}|{sys.version_info[:2]}|{pickle.DEFAULT_PROTOCOL}\n".encode())
    h.update(grammar_text().encode("utf-8"))
    paths = [package / name for name in ("__init__.py", "build.py", "lower.py", "span.py", "limits.py", "values.py", "durations.py", "suggest.py")]
    for sub in ("syntax", "check", "diagnostics", "model", "codegen", "recompile"):
        paths += sorted(p for p in (package / sub).rglob("*") if p.is_file() and p.suffix in (".py", ".j2", ".lark") and "__pycache__" not in p.parts)
    for p in paths:
        if p.is_file():
            h.update(p.relative_to(package).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def digest(*parts: str | bytes) -> str:
    """A key from its parts (each length-prefixed, so parts cannot run into each other)."""
    h = hashlib.sha256(code_fingerprint().encode())
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


class _Pickler(pickle.Pickler):
    """Pickles a parse without its file's path, so that one entry serves every
    path a file is shown by (`specs/a.om` from `om compile`, `/home/.../a.om`
    from the language server): every span of a parse shares one path object.
    Given a list `spans`, it also leaves the spans in that file out, putting
    their positions in the list instead: the pickle then holds only what the
    file says, not where, so two layouts of one spec give the same bytes (its
    shape, see shape_of), and the list's order pairs up their spans."""

    def __init__(self, out, file: str, spans: Optional[list] = None):
        super().__init__(out, pickle.HIGHEST_PROTOCOL)
        self._file = file
        self._spans = spans
        self._seen: dict[int, int] = {}  # id(span) -> its index (the tree is alive while pickled: ids stay unique)

    def persistent_id(self, obj):
        if obj is self._file:
            return "file"
        if self._spans is not None and type(obj) is Span and obj.file is self._file:
            n = self._seen.get(id(obj))
            if n is None:
                n = self._seen[id(obj)] = len(self._spans)
                self._spans.append((obj.line, obj.column, obj.end_line, obj.end_column, obj.start, obj.end))
            return n
        return None


class _Restricted(pickle.Unpickler):
    """Resolves only the allowed classes (_ALLOWED)."""

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED.get(module, frozenset())
        if allowed is not None and name not in allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache entry")
        found = super().find_class(module, name)
        if not isinstance(found, type) or (allowed is None and found.__module__ != module):
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache entry")
        return found


class _Unpickler(_Restricted):
    def __init__(self, data: bytes, file: Optional[str]):
        super().__init__(io.BytesIO(data))
        self._file = file

    def persistent_load(self, pid):
        if pid == "file" and self._file is not None:
            return self._file
        raise pickle.UnpicklingError("unknown persistent id")


def dumps(value, file: Optional[str] = None) -> bytes:
    """Pickled; `file`, the path every span of a parse holds, is left out (see _Pickler)."""
    if file is None:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    out = io.BytesIO()
    _Pickler(out, file).dump(value)
    return out.getvalue()


def loads(data: bytes, file: Optional[str] = None):
    """An entry's value, its spans in `file`; only the allowed classes are resolved."""
    return _Unpickler(data, file).load()


def dump_tree(tree, file: str) -> tuple[bytes, tuple]:
    """(the tree pickled without its spans in `file`, those spans' positions): see _Pickler."""
    out = io.BytesIO()
    spans: list = []
    _Pickler(out, file, spans).dump(tree)
    return out.getvalue(), tuple(spans)


def load_tree(data: bytes, spans: tuple, file: str):
    """dump_tree's tree again, its spans in `file`. The spans are made first and
    handed out by index from C (list.__getitem__): a Python call per span was a
    fifth of loading a tree."""
    made = [Span(file, *place) for place in spans]
    unpickler = _Restricted(io.BytesIO(data))
    unpickler.persistent_load = made.__getitem__  # any other id (a str, a float) fails: the entry is not used
    return unpickler.load()


def shape_of(tree_data: bytes) -> str:
    """A tree's shape: a hash of what it says, not where (dump_tree's pickle).
    Two texts of one shape differ only in comments and layout."""
    return hashlib.sha256(tree_data).hexdigest()


def warm_parser(cache) -> None:
    """Before a parse: in a process that has no parser yet, make it from the tables
    stored in the cache (an entry of plain data, so the restricted unpickler reads
    it), or build it and store its tables."""
    from om_dsl.syntax import grammar

    if cache is None or grammar.parser_made():
        return
    key = digest("grammar", grammar.LARK_VERSION)
    payload = cache.get("grammar", key)
    if payload is not None:
        try:
            grammar.use_tables(loads(payload))
            return
        except Exception:  # noqa: BLE001 - unreadable, or not this grammar's: build it
            pass
    cache.put("grammar", key, grammar.tables(grammar.get_parser()))


class Cache:
    """One cache directory. Every failure to read or write it is silent: the
    work is done again (`problem` says why a directory was refused)."""

    def __init__(self, root: Optional[Path] = None):
        try:
            self.root = Path(root) if root is not None else default_dir()
        except RuntimeError:  # no home folder to be found
            self.root = Path(os.devnull)
        self.problem: Optional[str] = None
        self._key: Optional[bytes] = None
        self.memory: dict[str, tuple] = {}  # shown path -> (key, its parse): one per path, never one per version
        self.hits = self.misses = 0
        try:
            self._key = self._open()
        except OSError as exc:
            self.problem = f"cannot use {self.root}: {exc.strerror or exc}"
        if self._key is not None:
            self._prune()

    @property
    def usable(self) -> bool:
        return self._key is not None

    def _open(self) -> Optional[bytes]:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(self.root, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            self.problem = f"{self.root} is not a folder"
            return None
        if hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or st.st_mode & 0o022):
            self.problem = f"{self.root} is not a folder only this user can write"
            return None
        path = self.root / _KEY_FILE
        if not os.path.lexists(path):
            # Written aside, then linked into place: a process starting at the same
            # moment sees no key or the whole key, never half of one.
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".key-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass  # another process won: use its key
            finally:
                os.unlink(tmp)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            key = f.read(33)
        if len(key) != 32 or (hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or st.st_mode & 0o077)):
            self.problem = f"{path} is not a key this user wrote"
            return None
        return key

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / key

    def _mac(self, kind: str, key: str, payload: bytes) -> bytes:
        # The payload fed apart, not joined to its head: entries are megabytes, the copy was half the cost.
        mac = hmac.new(self._key, kind.encode() + b"\0" + key.encode() + b"\0", hashlib.sha256)
        mac.update(payload)
        return mac.digest()

    def get(self, kind: str, key: str, touch: bool = True) -> Optional[bytes]:
        """The payload stored under (kind, key), or None: absent, corrupt, or not ours.
        `touch`: mark it used, so that pruning keeps it (not when a file's previous
        version is read to pair up its spans with the new one's)."""
        if self._key is None:
            return None
        try:
            fd = os.open(self._path(kind, key), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    return None
                data = f.read()
        except OSError:
            self.misses += 1
            return None
        head, mac, payload = data[: len(_MAGIC)], data[len(_MAGIC) : len(_MAGIC) + 32], data[len(_MAGIC) + 32 :]
        if head != _MAGIC or not hmac.compare_digest(mac, self._mac(kind, key, payload)):
            self.misses += 1
            return None
        self.hits += 1
        if touch:
            self.touch(kind, key)
        return payload

    def touch(self, kind: str, key: str) -> None:
        """Mark an entry used now, unread: pruning keeps it."""
        try:
            os.utime(self._path(kind, key))
        except OSError:
            pass

    def put(self, kind: str, key: str, payload: bytes) -> None:
        """Store a payload: written aside, then renamed into place (a reader never sees half an entry)."""
        if self._key is None:
            return
        path = self._path(kind, key)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(_MAGIC + self._mac(kind, key, payload))
                    f.write(payload)  # not joined: a copy of megabytes
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a full disk or a read-only home: the next run does the work again

    def _prune(self) -> None:
        """At most once a day: remove the entries nobody used for PRUNE_DAYS
        (every parse of every version of every file would otherwise stay)."""
        stamp = self.root / "pruned"
        now = time.time()
        try:
            if now - os.stat(stamp).st_mtime < 86400:
                return
        except OSError:
            pass
        try:
            stamp.touch()
            for kind in os.scandir(self.root):
                if not kind.is_dir(follow_symlinks=False):
                    continue
                for folder in os.scandir(kind.path):
                    if folder.is_dir(follow_symlinks=False):
                        for entry in os.scandir(folder.path):
                            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > PRUNE_DAYS * 86400:
                                os.unlink(entry.path)
        except OSError:
            pass

    def remember(self, path: str, value) -> None:
        """Keep a path's last parse in memory for this process (at most _MEMORY paths: the oldest goes first)."""
        self.memory.pop(path, None)
        if len(self.memory) >= _MEMORY:
            self.memory.pop(next(iter(self.memory)))
        self.memory[path] = value


def open_cache(enabled: bool = True) -> Optional[Cache]:
    """The default cache, or None when disabled or unusable."""
    if not enabled:
        return None
    cache = Cache()
    return cache if cache.usable else None
