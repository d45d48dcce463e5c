"""The OpenAI-compatible front API: routes only. The call flow lives in `calls.py`."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post

from gateway.api.calls import CallHandler


def openai_router(handler: CallHandler) -> Router:
    """`/v1/...` routes bound to one call handler."""

    @post("/chat/completions", status_code=200)
    async def chat_completions(request: Request[Any, Any, Any]) -> Response[Any]:
        return await handler.call(request, "chat")

    @post("/completions", status_code=200)
    async def completions(request: Request[Any, Any, Any]) -> Response[Any]:
        return await handler.call(request, "completion")

    @post("/embeddings", status_code=200)
    async def embeddings(request: Request[Any, Any, Any]) -> Response[Any]:
        return await handler.call(request, "embedding")

    @get("/models")
    async def list_models(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await handler.models(request)

    @get("/models/{model_id:path}")
    async def retrieve_model(request: Request[Any, Any, Any], model_id: str) -> Response[bytes]:
        return await handler.model(request, model_id.lstrip("/"))

    return Router(
        path="/v1",
        route_handlers=[chat_completions, completions, embeddings, list_models, retrieve_model],
        include_in_schema=False,
    )
