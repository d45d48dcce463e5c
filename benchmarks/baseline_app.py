"""The floor for a Python proxy: a bare Litestar + aiohttp pass-through, for comparison only.

`proxy_bench.py --with-baseline` runs this on the proxy core next to the gateway, so every run
also measures what the same framework stack costs with nothing on top: no authentication, no
validation, no normalisation, no logging, no metrics. The gap between it and the gateway is the
gateway's own work. Not a product and not a fallback: it reads only the body's `model` to pick
an upstream (the first one for unknown models) and forwards the bytes unchanged.

    python benchmarks/baseline_app.py --upstream demo-chat=http://127.0.0.1:9000/v1 --port 8090
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, post
from litestar.response import Stream


class _Model(msgspec.Struct):
    model: str = ""


_decode_model = msgspec.json.Decoder(_Model).decode


def _model_of(raw: bytes) -> str:
    """The body's `model` (routing needs it; msgspec reads only that field)."""
    try:
        return _decode_model(raw).model
    except msgspec.DecodeError:
        return ""


def create_baseline_app(upstreams: dict[str, str]) -> Litestar:
    """Pass `/v1/chat/completions` through to `upstreams[model]` (a `/v1` base URL), streams included."""
    state: dict[str, aiohttp.ClientSession] = {}
    default = next(iter(upstreams.values()))

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        try:
            yield
        finally:
            await state["session"].close()

    @post("/v1/chat/completions", status_code=200)
    async def chat(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        raw = await request.body()
        model = _model_of(raw)
        url = upstreams.get(model) or default
        upstream = await state["session"].post(
            f"{url}/chat/completions", data=raw, headers={"content-type": "application/json"}
        )
        media_type = upstream.headers.get("content-type", "application/json")
        if media_type.startswith("text/event-stream"):

            async def relay() -> AsyncIterator[bytes]:
                try:
                    async for chunk in upstream.content.iter_any():
                        yield chunk
                finally:
                    upstream.release()

            return Stream(relay(), status_code=upstream.status, media_type=media_type)
        body = await upstream.read()
        upstream.release()
        return Response(body, status_code=upstream.status, media_type=media_type)

    @get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[chat, healthz], lifespan=[lifespan], openapi_config=None, debug=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--upstream", action="append", required=True, help="MODEL=URL or URL (a /v1 base URL); repeatable"
    )
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    upstreams = dict(item.split("=", 1) if "=" in item else ("", item) for item in args.upstream)

    app = create_baseline_app(upstreams)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
