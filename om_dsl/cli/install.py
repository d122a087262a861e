"""Where this om-dsl comes from, to say how to install it or one of its
extras: no package index has om-dsl, so `pip install 'om-dsl[temporal]'` only
works where someone published it. om runs from a source checkout (a clone,
installed editable or on PYTHONPATH), from a directory or VCS URL pip
installed it from (PEP 610's direct_url.json), or from an index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

DIST = "om-dsl"


def _checkout() -> Optional[Path]:
    """The source checkout the running om_dsl package lives in, if it is one."""
    import om_dsl

    root = Path(om_dsl.__file__).resolve().parents[1]
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if f'name = "{DIST}"' in text else None


def _direct_url() -> Optional[dict]:
    from importlib import metadata  # here, not at the top: its import is a tenth of every `om` command's start-up

    try:
        text = metadata.distribution(DIST).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def requirement(extra: str = "", here: bool = True) -> str:
    """What to give `pip install` for this om-dsl (with an extra: `[temporal]`);
    `.` for a checkout that is the working directory, when `here`."""
    extras = f"[{extra}]" if extra else ""

    def _shown(path: Path) -> str:
        return "." if here and path == Path.cwd().resolve() else path.as_posix()

    checkout = _checkout()
    if checkout is not None:
        return _shown(checkout) + extras
    direct = _direct_url() or {}
    url = direct.get("url")
    if isinstance(url, str) and "vcs_info" in direct:
        commit = direct["vcs_info"].get("commit_id")
        return f"{DIST}{extras} @ {direct['vcs_info'].get('vcs', 'git')}+{url}" + (f"@{commit}" if commit else "")
    if isinstance(url, str) and url.startswith("file://") and "dir_info" in direct:
        return _shown(Path(url[len("file://"):]).resolve()) + extras
    if isinstance(url, str):
        return f"{DIST}{extras} @ {url}"
    from om_dsl import __version__

    return f"{DIST}{extras}=={__version__}"


def pip_install(extra: str = "") -> str:
    """The command that installs this om-dsl (or an extra of it), as a hint to print."""
    direct = _direct_url() or {}
    url, checkout = direct.get("url"), _checkout()
    editable = direct.get("dir_info", {}).get("editable") is True and checkout is not None and url == checkout.as_uri()
    return f"python -m pip install {'-e ' if editable else ''}'{requirement(extra)}'"

