"""FastAPI gateway: `uvicorn api.main:app`."""
