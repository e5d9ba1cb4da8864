"""One-off: record real engine data for the audit unit tests (tests/data/audit/). Cleans up after itself."""
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import date

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3]))
from python_on_whales import docker as whales

from tests.integration import test_audit as t

out = pathlib.Path(__file__).resolve().parent
sid = uuid.uuid4().hex[:6]
tags, containers, ids = [], [], []
tmp = pathlib.Path(tempfile.mkdtemp(prefix="bo-record-"))
def sh(*a, check=True):
    return subprocess.run(list(a), capture_output=True, text=True, check=check)
try:
    for name, text in (("cuda", t.CUDA_DOCKERFILE), ("model", t.MODEL_DOCKERFILE), ("tools", t.TOOLS_DOCKERFILE), ("clean", t.CLEAN_DOCKERFILE)):
        ctx = tmp / name
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(text)
        tag = f"buildopt-test/rec-{name}:{sid}"
        whales.buildx.build(ctx, tags=[tag], load=True, progress=False)
        tags.append(tag)
    ctx = tmp / "dangling"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY payload /payload\n")
    dtag = f"buildopt-test/rec-dangling:{sid}"
    for content in (b"first " * 500_000, b"second"):
        (ctx / "payload").write_bytes(content + sid.encode())
        whales.buildx.build(ctx, tags=[dtag], load=True, progress=False)
        ids.append(sh("docker", "image", "inspect", "--format", "{{.Id}}", dtag).stdout.strip())
    tags.append(dtag)
    data = tmp / "data"
    data.mkdir()
    src = tmp / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text("[project]\n")
    clean = tags[3]
    c1 = f"buildopt-test-rec-{sid}-limited"
    c2 = f"buildopt-test-rec-{sid}-loose"
    sh("docker", "run", "-d", "--name", c1, "--network", "none", "--memory", "256m", "--cpus", "0.5", "--restart", "unless-stopped",
       "--read-only", "-v", f"{data}:/data:ro", clean)
    containers.append(c1)
    sh("docker", "create", "--name", c2, "--privileged", "--cap-add", "NET_ADMIN", "--user", "root", "-p", "18082:80",
       "-p", "127.0.0.1:18083:81", "-v", f"{src}:/app", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro", clean)
    containers.append(c2)
    inspect = json.loads(sh("docker", "inspect", c1, c2).stdout)
    (out / "containers-inspect.json").write_text(json.dumps(inspect, indent=1))
    import docker
    client = docker.from_env()
    rec = {"image_inspect": client.api.inspect_image(clean), "history": client.api.history(clean),
           "tools_history": client.api.history(tags[2]), "tools_inspect": client.api.inspect_image(tags[2])}
    (out / "images-inspect-history.json").write_text(json.dumps(rec, indent=1))
    from buildopt.audit import AuditOptions, run_audit
    from buildopt.report.audit_report import audit_document
    doc = audit_document(run_audit(AuditOptions(today=date(2026, 11, 22))))
    (out / "audit-document.json").write_text(json.dumps(doc, indent=1))
    print("recorded", len(doc["images"]), "images", len(doc["containers"]), "containers", len(doc["dangling"]), "dangling")
finally:
    for c in containers:
        sh("docker", "rm", "-f", c, check=False)
    for ref in tags + ids:
        sh("docker", "image", "rm", ref, check=False)
    shutil.rmtree(tmp, ignore_errors=True)
