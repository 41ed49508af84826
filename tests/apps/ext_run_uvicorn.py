"""``uvicorn.run(app)`` from a script, with uvicorn's default log config or zerolog_mw's.

Usage: ``python ext_run_uvicorn.py PORT default|zerolog``.
"""

from __future__ import annotations

import sys

import uvicorn
from ext_quiet_app import asgi_app

import zerolog_mw.uvicorn

if __name__ == "__main__":
    port, config = int(sys.argv[1]), sys.argv[2]
    log_config = (
        zerolog_mw.uvicorn.log_config() if config == "zerolog" else uvicorn.config.LOGGING_CONFIG
    )
    uvicorn.run(asgi_app, port=port, log_level="trace", log_config=log_config)
