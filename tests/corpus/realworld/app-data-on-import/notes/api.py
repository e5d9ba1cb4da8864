from fastapi import FastAPI

from . import store

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "notes": store.count()}


@app.post("/notes")
def create(text: str) -> dict:
    return {"id": store.add(text)}
