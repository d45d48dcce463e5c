"""Test-only entry point: the real gateway app with the audit review page mounted.

Until `gateway/app.py` mounts `ui_router` itself, the browser tests run the gateway through
this module: the app from `create_app(settings)`, plus the `/ui` router registered on it with
a key store built from the same settings. Once the app mounts the router, the check below
finds `/ui/login` already there and this module only adds the sqlite migration and uvicorn,
as `gateway serve` does; the tests can then start `python -m gateway serve` instead.

    python -m tests.e2e.ui.serve_ui_app CONFIG_PATH PORT
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from litestar import Litestar

from gateway.app import _stored_key, create_app
from gateway.audit.cli import cmd_db_upgrade
from gateway.auth import KeyStore
from gateway.config import CONFIG_ENV, load_settings
from gateway.observability import configure_logging
from gateway.ui.routes import ui_router


def app_with_ui() -> Litestar:
    settings = load_settings()
    configure_logging(settings.logging)
    app = create_app(settings)
    if not any(route.path == "/ui/login" for route in app.routes):
        keys = KeyStore(_stored_key(k) for k in settings.keys)
        app.register(ui_router(keys.authenticate))
    return app


def main(argv: list[str]) -> int:
    config, port = Path(argv[0]).resolve(), int(argv[1])
    settings = load_settings(config)
    if settings.audit.database_url.startswith("sqlite") and cmd_db_upgrade(settings.audit, out=sys.stderr) != 0:
        return 2
    os.environ[CONFIG_ENV] = str(config)
    uvicorn.run(
        "tests.e2e.ui.serve_ui_app:app_with_ui",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=1,
        log_config=None,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
