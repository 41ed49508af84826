"""Start the careless FastAPI app with ``uvicorn.run(app)`` from a script (port from argv).

The app object is imported first and uvicorn's dictConfig runs after: the launch style that
undoes import-time logging changes.
"""

import sys

import careless_fastapi
import uvicorn

uvicorn.run(careless_fastapi.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="trace")
