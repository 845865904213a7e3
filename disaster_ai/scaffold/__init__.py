"""`disaster-ai plugins new NAME [--dir DIR]`: write a working plugin project.

The project (template/ here, ``${name}``-style placeholders) has a hook for each part of the
platform a municipality's plugin usually needs: a scheduled job reading a feed through
``desk.egress.fetch`` into incidents (``desk.incidents.upsert``) and suggested notices
(``desk.notices.suggest``), a table with its Alembic migration, a page, a test and a README.
``pip install -e`` of it, then ``pytest`` in it, passes as generated.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).resolve().parent / "template"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,39}")


class ScaffoldError(ValueError):
    """The name or the folder cannot be used; the message says why."""


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a plugin's name, or None when it can."""
    if not NAME_PATTERN.fullmatch(name or ""):
        return "use 2 to 40 lowercase letters, digits or '_', starting with a letter"
    if keyword.iskeyword(name) or name.startswith(("dai_", "disaster_ai")):
        return "this name is reserved"
    if importlib.util.find_spec(name) is not None:
        return f"a Python module named {name} exists already; choose another name"
    return None


def new_plugin(name: str, directory: str | Path = ".", title: str | None = None) -> Path:
    """Write the project ``<directory>/<name>/``; returns its path. ScaffoldError when the
    name is not usable or the folder exists."""
    problem = check_name(name)
    if problem:
        raise ScaffoldError(problem)
    root = Path(directory).expanduser().resolve() / name
    if root.exists():
        raise ScaffoldError(f"{root} exists already")
    values = {
        "name": name,
        "slug": name.replace("_", "-"),
        "dist": name.replace("_", "-"),
        "title": title or name.replace("_", " ").capitalize(),
    }
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE).as_posix().removesuffix(".tmpl")
        relative = relative.replace("PACKAGE", name)
        if relative == f"{name}/migrations/0001.py":
            relative = f"{name}/migrations/{name}_0001_items.py"
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        text = Template(source.read_text(encoding="utf-8")).safe_substitute(values)
        target.write_text(text, encoding="utf-8")
    return root
