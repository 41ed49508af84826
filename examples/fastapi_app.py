"""FastAPI, zero-log with one call.

Run:  uvicorn --app-dir examples fastapi_app:app
"""

from __future__ import annotations

from fastapi import FastAPI

import zerolog_mw

app = FastAPI()


@app.post("/process")
async def process(payload: dict[str, str]) -> dict[str, int]:
    print(f"got {payload}")  # careless, and dropped: nothing of the request leaves
    return {"fields": len(payload)}


zerolog_mw.wrap(app)
