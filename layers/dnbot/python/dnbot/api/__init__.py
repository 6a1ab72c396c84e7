"""The HTTP API: a FastAPI app (wrapped by Mangum in functions/api, served by uvicorn in `dnbot local`)."""
