"""A URL shortener kept in memory: nothing written to disk."""

import hashlib

from fastapi import FastAPI, HTTPException

app = FastAPI()
LINKS: dict[str, str] = {}


def code_for(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:7]


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "links": len(LINKS)}


@app.post("/links")
def shorten(url: str) -> dict:
    LINKS[code_for(url)] = url
    return {"code": code_for(url)}


@app.get("/{code}")
def resolve(code: str) -> dict:
    if code not in LINKS:
        raise HTTPException(404)
    return {"url": LINKS[code]}
