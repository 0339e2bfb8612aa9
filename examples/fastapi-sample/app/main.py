"""A FastAPI service in the shape of seed 004's MIVAA, small enough to deploy in a test.

It answers /health with its version and the port of the instance that answered, and says whether
its API key arrived, never what it is.
"""

import os

from fastapi import FastAPI

VERSION = "1"

app = FastAPI(title="fastapi-sample")


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "version": VERSION, "instance": os.environ.get("PORT")}


@app.get("/")
def index() -> dict:
    return {"service": "fastapi-sample", "version": VERSION, "apiKeySet": bool(os.environ.get("API_KEY"))}
