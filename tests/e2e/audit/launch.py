"""Start several gateway stacks at once, so a module pays for one start-up, not one per database.

A gateway process takes seconds to import and start; the audit e2e modules need one per
database (and per scenario). `launch_all` starts every stack a module's selected tests need in
parallel threads, each with its own `ExitStack` (so a stack that fails to start, or is skipped
because PostgreSQL is missing, cleans up after itself and does not take the others down), and
hands back a getter that returns a stack or re-raises what stopped it (skip, fail or error)
in the test that asked for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests import processes
from tests.processes import Running

T = TypeVar("T")

LAUNCH_TIMEOUT_S = 180.0
"""Everything a module launches, databases included; past it the launch fails instead of hanging."""


def start_gateway(directory: Path, config: dict[str, Any], *, name: str) -> Running:
    """`gateway serve --config` with one worker and JSON logs at info. One worker: SIGKILL then
    hits the serving process."""
    return processes.start_gateway(
        directory, {**config, "logging": {"level": "info", "format": "json"}}, name=name, workers=1
    )


def selected_params(request: pytest.FixtureRequest, fixture: str, argname: str) -> list[str]:
    """Values of parameter `argname` among the collected tests of this module that use `fixture`.

    Lets a module-scoped launcher start only what the selected tests (`-k`, `-m`) will use.
    """
    values: list[str] = []
    for item in request.session.items:
        if item.path != request.path or fixture not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        value = callspec.params.get(argname) if callspec is not None else None
        if isinstance(value, str) and value not in values:
            values.append(value)
    return values


def uses_fixture(request: pytest.FixtureRequest, fixture: str) -> bool:
    """Whether any collected test of this module uses `fixture`."""
    return any(
        item.path == request.path and fixture in getattr(item, "fixturenames", ()) for item in request.session.items
    )


@contextmanager
def launch_all(keys: Iterable[str], start: Callable[[str, ExitStack], T]) -> Iterator[Callable[[str], T]]:
    """Run `start(key, stack)` for every key at once; yield `get(key)`; close every stack on exit."""
    stacks = {key: ExitStack() for key in keys}

    def one(key: str) -> T:
        try:
            return start(key, stacks[key])
        except BaseException:
            stacks[key].close()
            raise

    pool = ThreadPoolExecutor(max_workers=max(len(stacks), 1), thread_name_prefix="launch")
    futures = {key: pool.submit(one, key) for key in stacks}
    try:
        _, pending = wait(futures.values(), timeout=LAUNCH_TIMEOUT_S)
        pool.shutdown(wait=not pending)
        if pending:
            stuck = sorted(key for key, future in futures.items() if future in pending)
            raise TimeoutError(f"not started within {LAUNCH_TIMEOUT_S} s: {stuck}")

        def get(key: str) -> T:
            if key not in futures:
                raise KeyError(f"{key} was not launched; launched: {sorted(futures)}")
            return futures[key].result()

        yield get
    finally:
        for stack in stacks.values():
            stack.close()
