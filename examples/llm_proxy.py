"""An LLM proxy: takes a prompt, streams the provider's tokens back as SSE, retains nothing.

Run:  uvicorn --app-dir examples llm_proxy:app
Try:  curl -N -X POST localhost:8000/v1/chat -H 'content-type: application/json' \\
           -d '{"prompt": "my grandmother\\'s maiden name is ..."}'

The provider is a stand-in that yields tokens with realistic delays; set ``UPSTREAM_URL`` to
stream from a real one over HTTP instead (needs ``httpx``). The careless ``print`` and log
call are what proxies often do; zerolog_mw keeps both from leaving. Metrics (StatsD, to
``$STATSD_HOST:$STATSD_PORT``) carry latency, time to first token and bytes streamed only.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

import zerolog_mw

log = logging.getLogger("llm_proxy")
app = FastAPI()
TOKEN_DELAY = float(os.environ.get("TOKEN_DELAY", "0.05"))


class Chat(BaseModel):
    prompt: str


async def stand_in_provider(prompt: str) -> AsyncIterator[str]:
    for word in ("Tokens", " stream", " back", " one", " by", " one", "."):
        await asyncio.sleep(TOKEN_DELAY)
        yield word


async def upstream_provider(url: str, prompt: str) -> AsyncIterator[str]:
    import httpx

    async with (
        httpx.AsyncClient(timeout=None) as client,
        client.stream("POST", url, json={"prompt": prompt}) as response,
    ):
        async for text in response.aiter_text():
            yield text


@app.post("/v1/chat")
async def chat(body: Chat) -> StreamingResponse:
    print(f"prompt: {body.prompt}")  # careless, and dropped
    log.info("forwarding %s", body.prompt)  # careless, and dropped
    url = os.environ.get("UPSTREAM_URL")
    tokens = upstream_provider(url, body.prompt) if url else stand_in_provider(body.prompt)

    async def events() -> AsyncIterator[str]:
        async for token in tokens:
            yield f"data: {token}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


zerolog_mw.wrap(app)
