"""Reading the JSON syntax tree regorus produces for a Rego module.

Pure. Used for what the engine itself does not report: test discovery (`test_*` rules in
`*_test.rego` packages) and the checks that make the embedded engine refuse what OPA 1.x refuses
but regorus accepts (several `default` rules for one name, built-ins OPA 1.0 removed). The tree
is regorus's own format; only the few node kinds read here are relied on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from gateway.policy.decision import JsonValue
from gateway.policy.sources import Problem

# Built-ins OPA 1.0 rejects ("deprecated built-in function calls"), see
# https://www.openpolicyagent.org/docs/latest/v0-compatibility/
REMOVED_BUILTINS: Final = frozenset(
    {
        "any",
        "all",
        "re_match",
        "net.cidr_overlap",
        "set_diff",
        "cast_array",
        "cast_set",
        "cast_string",
        "cast_boolean",
        "cast_null",
        "cast_object",
    }
)


@dataclass(frozen=True, slots=True)
class RuleHead:
    """A rule's name (first segment of its head reference), kind and line."""

    name: str
    kind: str
    """`rule`, `function`, `set` or `default`."""
    line: int | None
    arity: int = 0
    """Number of arguments, for functions."""


@dataclass(frozen=True, slots=True)
class Call:
    """A function call: dotted name as written, line, and number of arguments."""

    name: str
    line: int | None
    argc: int


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    """What the checks and the test runner need from one module."""

    file: str
    package: str
    rules: tuple[RuleHead, ...]
    calls: tuple[Call, ...]


def ref_path(node: JsonValue) -> str | None:
    """Dotted name of a `Var` / `RefDot` chain (`net.cidr_overlap`), else None."""
    if not isinstance(node, dict):
        return None
    var = node.get("Var")
    if isinstance(var, dict) and isinstance(var.get("value"), str):
        return str(var["value"])
    dot = node.get("RefDot")
    if isinstance(dot, dict):
        base = ref_path(dot.get("refr"))
        field = dot.get("field")
        if base is not None and isinstance(field, list) and len(field) == 2 and isinstance(field[1], str):
            return f"{base}.{field[1]}"
    return None


def _first_segment(node: JsonValue) -> str | None:
    if not isinstance(node, dict):
        return None
    for key in ("RefDot", "RefBrack"):
        inner = node.get(key)
        if isinstance(inner, dict):
            return _first_segment(inner.get("refr"))
    return ref_path(node)


def _line(node: JsonValue) -> int | None:
    if isinstance(node, dict):
        span = node.get("span")
        line = span.get("line") if isinstance(span, dict) else None
        if isinstance(line, int):
            return line
    return None


def _rule_head(rule: JsonValue) -> RuleHead | None:
    if not isinstance(rule, dict):
        return None
    default = rule.get("Default")
    if isinstance(default, dict):
        name = _first_segment(default.get("refr"))
        return RuleHead(name, "default", _line(default)) if name else None
    spec = rule.get("Spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("head"), dict):
        return None
    head = spec["head"]
    assert isinstance(head, dict)  # noqa: S101 - narrowed above; mypy needs it restated
    for key, kind in (("Compr", "rule"), ("Func", "function"), ("Set", "set")):
        inner = head.get(key)
        if isinstance(inner, dict):
            name = _first_segment(inner.get("refr"))
            args = inner.get("args")
            arity = len(args) if isinstance(args, list) else 0
            return RuleHead(name, kind, _line(spec), arity) if name else None
    return None


def _walk_calls(node: JsonValue) -> Iterator[Call]:
    if isinstance(node, dict):
        call = node.get("Call")
        if isinstance(call, dict):
            name = ref_path(call.get("fcn"))
            params = call.get("params")
            if name is not None:
                yield Call(name, _line(call), len(params) if isinstance(params, list) else 0)
        for value in node.values():
            yield from _walk_calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_calls(item)


def module_info(entry: JsonValue) -> ModuleInfo | None:
    """Summarise one element of `Engine.get_ast_as_json()`."""
    if not isinstance(entry, dict):
        return None
    source = entry.get("source")
    tree = entry.get("ast")
    if not isinstance(source, dict) or not isinstance(tree, dict):
        return None
    package_node = tree.get("package")
    package = ref_path(package_node.get("refr")) if isinstance(package_node, dict) else None
    rules = tree.get("rules")
    heads = [h for h in map(_rule_head, rules if isinstance(rules, list) else []) if h is not None]
    return ModuleInfo(
        file=str(source.get("file", "?")),
        package=package or "?",
        rules=tuple(heads),
        calls=tuple(_walk_calls(rules)),
    )


def static_problems(modules: list[ModuleInfo]) -> list[Problem]:
    """What OPA 1.x refuses at compile time and regorus lets through."""
    problems: list[Problem] = []
    defaults: dict[tuple[str, str], str] = {}
    for module in modules:
        for call in module.calls:
            if call.name in REMOVED_BUILTINS:
                message = f"deprecated built-in `{call.name}` is not available in Rego v1"
                problems.append(Problem(module.file, call.line, message))
        for head in module.rules:
            if head.kind != "default":
                continue
            key = (module.package, head.name)
            if key in defaults:
                problems.append(
                    Problem(
                        module.file,
                        head.line,
                        f"multiple default rules data.{module.package}.{head.name} (also in {defaults[key]})",
                    )
                )
            else:
                defaults[key] = module.file
    return problems
