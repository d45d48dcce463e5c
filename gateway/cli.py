"""The `gateway` command: serve, demo, demo-upstream, keys and the per-concern subcommands.

Parses arguments and calls into the package; no logic of its own. Exit codes: 0 success,
1 a check failed (tests, verification), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from gateway import __version__
from gateway.audit.settings import AuditSettings
from gateway.auth import hash_key
from gateway.config import ConfigError, Settings, export_for_workers, load_settings
from gateway.observability import configure_logging

DEMO_CONFIG = Path(__file__).parent / "demo" / "demo.yaml"

DEMO_BANNER = """
  Demo gateway on http://127.0.0.1:8080/v1  (demo upstream in echo mode; demo key sk-demo-app)
  curl -s http://127.0.0.1:8080/v1/chat/completions -H 'authorization: Bearer sk-demo-app' \\
       -d '{"model": "demo-chat", "messages": [{"role": "user", "content": "Hello"}]}'
"""

Command = Callable[[argparse.Namespace], int]


def _load(path: Path | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)  # noqa: T201 - the CLI talks to a person here
        raise SystemExit(2) from exc


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the gateway on uvicorn with N worker processes."""
    import uvicorn  # noqa: PLC0415 - keeps `gateway --help` fast

    settings = _load(args.config)
    configure_logging(settings.logging)
    if settings.audit.database_url.startswith("sqlite"):
        # The embedded default migrates itself, once, before workers fork.
        from gateway.audit.cli import cmd_db_upgrade as upgrade  # noqa: PLC0415

        if upgrade(settings.audit, out=sys.stderr) != 0:
            return 2
    workers = args.workers or settings.server.workers or os.cpu_count() or 1
    multiproc_dir = tempfile.mkdtemp(prefix="gateway-metrics-") if workers > 1 else None
    # Workers must agree on the key that signs UI sessions; one random key per start unless configured.
    ui_secret = None if settings.ui.session_secret else secrets.token_hex(32)
    export_for_workers(args.config, multiproc_dir, ui_session_secret=ui_secret)
    uvicorn.run(
        "gateway.app:app_from_environment",
        factory=True,
        host=args.host or settings.server.host,
        port=args.port if args.port is not None else settings.server.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_demo_upstream(args: argparse.Namespace) -> int:
    """Run the demo upstream: a small OpenAI-compatible server for demos, tests and benchmarks."""
    from gateway.demo.options import DemoOptions  # noqa: PLC0415
    from gateway.demo.upstream import run_demo_upstream  # noqa: PLC0415

    options = DemoOptions(
        mode=args.mode,
        quirks=args.quirks,
        latency_ms=args.latency_ms,
        chunk_delay_ms=args.chunk_delay_ms,
        fail_status=args.fail_status,
    )
    run_demo_upstream(args.host, args.port, options)
    return 0


def _demo_config(path: Path, upstream_port: int, port: int | None) -> Path:
    """The demo config with its backend pointed at the demo upstream's port."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if port is not None:
        data.setdefault("server", {})["port"] = port
    for backend in data.get("backends", []):
        if backend.get("name") == "demo-upstream":
            backend["base_url"] = f"http://127.0.0.1:{upstream_port}/v1"
    handle, name = tempfile.mkstemp(prefix="gateway-demo-", suffix=".yaml")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        yaml.safe_dump(data, out)
    return Path(name)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:
    """Runs in the demo upstream's child process: the kernel ends it when `gateway demo` ends."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def cmd_demo(args: argparse.Namespace) -> int:
    """Gateway on embedded defaults plus the demo upstream, for a first look."""
    config = _demo_config(args.config, args.upstream_port, args.port)
    # A SIGTERM before uvicorn installs its handlers must still stop the upstream below.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    upstream = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", "demo-upstream", "--port", str(args.upstream_port), "--mode", args.mode],
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads exist yet in this process
    )
    try:
        time.sleep(0.5)
        if upstream.poll() is not None:
            print("gateway: the demo upstream did not start", file=sys.stderr)  # noqa: T201
            return 2
        print(DEMO_BANNER.replace("8080", str(args.port or 8080)), file=sys.stderr)  # noqa: T201
        serve = argparse.Namespace(config=config, host=None, port=None, workers=args.workers)
        return cmd_serve(serve)
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)


def cmd_keys_hash(args: argparse.Namespace) -> int:
    """Print the SHA-256 to put in `keys[].key_sha256`, so config files hold no secret."""
    key = args.key if args.key is not None else sys.stdin.readline().strip()
    print(hash_key(key))  # noqa: T201
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    settings = _load(args.config)
    print(  # noqa: T201
        f"ok: {len(settings.backends)} backends, {len(settings.keys)} keys, {len(settings.model_aliases)} aliases"
    )
    return 0


def cmd_policy_test(args: argparse.Namespace) -> int:
    """Run the Rego unit tests of a policy directory, like `opa test -v`."""
    from gateway.policy.cli import policy_test  # noqa: PLC0415

    return policy_test(args.dir, verbose=not args.quiet, run=args.run)


def cmd_policy_eval(args: argparse.Namespace) -> int:
    """Print the decision of a policy directory for one JSON input."""
    from gateway.policy.cli import policy_eval  # noqa: PLC0415

    return policy_eval(args.input, directory=args.dir)


def _add_policy_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = sub.add_parser("policy", help="policy authors' tools").add_subparsers(dest="policy_command", required=True)
    test = policy.add_parser("test", help="run every test_* rule in *_test.rego files (like `opa test -v`)")
    test.add_argument("dir", type=Path, nargs="?", default=Path("policies"))
    test.add_argument("--run", default=None, help="only tests whose name matches this regular expression")
    test.add_argument("--quiet", action="store_true", help="print failures and the summary only")
    test.set_defaults(func=cmd_policy_test)
    evaluate = policy.add_parser("eval", help="print data.gateway.decision for a JSON input")
    evaluate.add_argument("--input", type=Path, required=True, help="JSON policy input file, or - for stdin")
    evaluate.add_argument("--dir", type=Path, default=Path("policies"))
    evaluate.set_defaults(func=cmd_policy_eval)


def _audit_settings(args: argparse.Namespace) -> AuditSettings:
    return _load(args.config).audit


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Create or migrate the audit database to the newest schema (Alembic)."""
    from gateway.audit.cli import cmd_db_upgrade as upgrade  # noqa: PLC0415

    return upgrade(_audit_settings(args), revision=args.revision)


def _add_audit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gateway.audit.cli import add_audit_commands  # noqa: PLC0415

    db = sub.add_parser("db", help="audit database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate the audit database to the newest schema")
    up.add_argument("--config", type=Path, default=None)
    up.add_argument("--revision", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    audit = sub.add_parser("audit", help="compliance officers' tools: search, export, verify, stats, purge")
    audit.add_argument("--config", type=Path, default=None, help="YAML config (default: $GATEWAY_CONFIG)")
    add_audit_commands(audit.add_subparsers(dest="audit_command", required=True), _audit_settings)


def cmd_pii_eval(args: argparse.Namespace) -> int:
    """Precision, recall and leak rate of PII detection on a labelled corpus."""
    from gateway.pii.cli import pii_eval  # noqa: PLC0415 - keeps `gateway --help` fast

    return pii_eval(args)


def _add_pii_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gateway.pii.cli import DESCRIPTION, add_eval_arguments  # noqa: PLC0415

    pii = sub.add_parser("pii", help="PII detection tools").add_subparsers(dest="pii_command", required=True)
    evaluate = pii.add_parser(
        "eval", help="precision, recall and leak rate on a labelled corpus", description=DESCRIPTION
    )
    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=cmd_pii_eval)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="LLM governance gateway")
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, default=None, help="YAML config (default: $GATEWAY_CONFIG)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="run the gateway with the demo upstream on embedded defaults")
    demo.add_argument("--config", type=Path, default=DEMO_CONFIG)
    demo.add_argument("--port", type=int, default=None, help="gateway port (default 8080)")
    demo.add_argument("--upstream-port", type=int, default=9000)
    demo.add_argument("--mode", choices=["fixed", "echo"], default="echo")
    demo.add_argument("--workers", type=int, default=None)
    demo.set_defaults(func=cmd_demo)

    up = sub.add_parser("demo-upstream", help="run the demo OpenAI-compatible upstream (not a real model)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=9000)
    up.add_argument("--mode", choices=["fixed", "echo"], default="fixed")
    up.add_argument("--quirks", choices=["none", "llamacpp"], default="none")
    up.add_argument("--latency-ms", type=float, default=0.0)
    up.add_argument("--chunk-delay-ms", type=float, default=0.0)
    up.add_argument("--fail-status", type=int, default=None)
    up.set_defaults(func=cmd_demo_upstream)

    keys = sub.add_parser("keys", help="API key helpers").add_subparsers(dest="keys_command", required=True)
    key_hash = keys.add_parser("hash", help="print the SHA-256 of a key (reads stdin without --key)")
    key_hash.add_argument("--key", default=None)
    key_hash.set_defaults(func=cmd_keys_hash)

    config = sub.add_parser("config", help="configuration helpers").add_subparsers(dest="config_command", required=True)
    check = config.add_parser("check", help="validate a configuration file")
    check.add_argument("--config", type=Path, default=None)
    check.set_defaults(func=cmd_config_check)
    _add_policy_commands(sub)
    _add_pii_commands(sub)
    _add_audit_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    func: Command = args.func
    return func(args)
