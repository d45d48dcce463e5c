"""Reading a policy directory into one immutable, versioned set of Rego modules and data.

The layout follows OPA's loader, so `opa run -s policies/` sees exactly what the embedded engine
sees: every `*.rego` file is a module; every `*.json` file is data placed at the path of its
directory relative to the root (`policies/data/licenses.json` -> `data.data`). The version is a
SHA-256 over every file's path and bytes, so the same content always has the same version, on
any machine. This module reads files; it compiles nothing (see `embedded.py`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.policy.decision import JsonValue

TEST_SUFFIX = "_test.rego"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a policy set was refused, located as precisely as the engine allows."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, str | int | None]:
        return {"file": self.file, "line": self.line, "message": self.message}


class PolicyLoadError(Exception):
    """A policy set cannot be used: it does not parse, compile or pass its tests."""

    def __init__(self, problems: tuple[Problem, ...], *, kind: str = "compile") -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        self.kind = kind
        """`read` (files), `compile` (Rego rejected) or `test` (a Rego test failed)."""
        self.version: str | None = None
        """Content hash of the refused set, when its files could be read."""


@dataclass(frozen=True, slots=True)
class PolicySources:
    """The content of a policy directory at one moment."""

    root: str
    modules: tuple[tuple[str, str], ...]
    """(path relative to the root, Rego source), sorted by path."""
    data: Mapping[str, JsonValue]
    """All data files merged into one document (the `data` root)."""
    version: str
    """Content hash of every file: `sha256:<hex>`."""

    @property
    def policy_modules(self) -> tuple[tuple[str, str], ...]:
        """Modules without the `*_test.rego` files: what serves decisions."""
        return tuple(m for m in self.modules if not m[0].endswith(TEST_SUFFIX))

    @property
    def short_version(self) -> str:
        return self.version.removeprefix("sha256:")[:12]

    def data_json(self) -> str:
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))


def _is_hidden(rel: Path) -> bool:
    # Editors leave `.#x.rego`, `x.rego~` and swap files beside the real ones.
    return any(part.startswith(".") for part in rel.parts) or rel.name.endswith("~")


def policy_files(root: Path) -> list[Path]:
    """The files that make up a policy set, sorted: `*.rego` and `*.json`, hidden ones skipped."""
    files = [
        p
        for p in root.rglob("*")
        if p.suffix in {".rego", ".json"} and p.is_file() and not _is_hidden(p.relative_to(root))
    ]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_policy_sources(root: Path) -> PolicySources:
    """Read a policy directory.

    Raises `PolicyLoadError` (kind `read`) when the directory is missing, a file is not UTF-8,
    a data file is not JSON, or two data files define the same key.
    """
    if not root.is_dir():
        raise PolicyLoadError((Problem(str(root), None, "policy directory does not exist"),), kind="read")
    digest = hashlib.sha256()
    modules: list[tuple[str, str]] = []
    data: dict[str, JsonValue] = {}
    problems: list[Problem] = []
    for path in policy_files(root):
        rel = path.relative_to(root).as_posix()
        raw = path.read_bytes()
        digest.update(rel.encode() + b"\0" + len(raw).to_bytes(8, "big") + raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(rel, None, f"not UTF-8 ({exc.reason})"))
            continue
        if path.suffix == ".rego":
            modules.append((rel, text))
            continue
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(rel, exc.lineno, f"invalid JSON: {exc.msg}"))
            continue
        prefix = path.parent.relative_to(root).parts
        problems.extend(_merge(data, prefix, document, rel))
    if problems:
        raise PolicyLoadError(tuple(problems), kind="read")
    if not modules:
        raise PolicyLoadError((Problem(str(root), None, "no .rego files found"),), kind="read")
    return PolicySources(root=str(root), modules=tuple(modules), data=data, version="sha256:" + digest.hexdigest())


def _merge(data: dict[str, JsonValue], prefix: tuple[str, ...], document: JsonValue, rel: str) -> list[Problem]:
    node = data
    for part in prefix:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return [Problem(rel, None, f"data path `{'.'.join(prefix)}` conflicts with another file")]
        node = child
    if not isinstance(document, dict):
        if prefix:
            return [Problem(rel, None, "a data file must hold a JSON object")]
        return [Problem(rel, None, "a data file at the root must hold a JSON object")]
    return _merge_objects(node, document, rel, prefix)


def _merge_objects(
    into: dict[str, JsonValue], new: dict[str, JsonValue], rel: str, path: tuple[str, ...]
) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in new.items():
        here = (*path, key)
        old = into.get(key)
        if key not in into:
            into[key] = value
        elif isinstance(old, dict) and isinstance(value, dict):
            problems.extend(_merge_objects(old, value, rel, here))
        else:
            problems.append(Problem(rel, None, f"data key `data.{'.'.join(here)}` is defined twice"))
    return problems
