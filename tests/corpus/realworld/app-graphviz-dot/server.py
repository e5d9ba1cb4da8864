from flask import Flask, Response, request

from diagram import render

app = Flask(__name__)


@app.get("/health")
def health():
    render("digraph { ok }")  # proves `dot` is installed and runs
    return {"status": "ok"}


@app.post("/render")
def render_endpoint():
    return Response(render(request.get_data(as_text=True)), mimetype="image/svg+xml")
