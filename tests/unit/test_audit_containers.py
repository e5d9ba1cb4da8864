"""Container checks on `docker inspect` output recorded from the real engine (tests/data/audit/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from buildopt.audit import _container_facts
from buildopt.audit.containers import container_record
from buildopt.score import security_score

DATA = Path(__file__).resolve().parent.parent / "data" / "audit"
LIMITED, LOOSE = json.loads((DATA / "containers-inspect.json").read_text())


def test_running_container_with_limits():
    record = container_record(LIMITED)
    assert record.running and record.name.endswith("-limited")
    assert record.memory_limit == 256 * 1024**2 and record.cpu_limit == 0.5
    assert record.restart_policy == "unless-stopped" and record.readonly_rootfs
    assert record.user == "app" and not record.runs_as_root
    assert record.healthcheck == "ok" and record.health_status == "starting"
    assert [(m.type, m.destination, m.writable, m.source_code) for m in record.mounts] == [("bind", "/data", False, False)]
    assert record.ports == () and record.network_mode == "none"
    assert record.problems() == []
    assert security_score(_container_facts(record)).score == 100


def test_created_container_with_everything_the_audits_flag():
    record = container_record(LOOSE)
    assert record.state == "created" and record.health_status is None  # not running: no status
    assert record.privileged and record.cap_add == ("CAP_NET_ADMIN",)
    assert record.ports == ("0.0.0.0:18082->80/tcp", "127.0.0.1:18083->81/tcp")
    assert record.ports_all_interfaces == ("0.0.0.0:18082->80/tcp",)
    app, sock = record.mounts
    assert app.destination == "/app" and app.writable and app.source_code  # over a usual code dir
    assert sock.docker_socket and not sock.writable and not sock.source_code
    assert [slug for slug, _ in record.problems()] == [
        "privileged", "docker-socket", "extra-capabilities", "root-user", "port-all-interfaces", "source-bind-mount",
        "no-memory-limit", "no-cpu-limit", "no-restart-policy"]
    score = security_score(_container_facts(record))
    assert score.score == 100 - 25 - 15 - 5 - 5


def test_source_tree_detection_by_workdir_and_markers(tmp_path):
    data = json.loads(json.dumps(LOOSE))
    data["Config"]["WorkingDir"] = "/srv/service"
    data["Mounts"] = [
        {"Type": "bind", "Source": str(tmp_path / "code"), "Destination": "/srv/service", "RW": False},
        {"Type": "bind", "Source": str(tmp_path / "data"), "Destination": "/var/lib/data", "RW": True},
        {"Type": "bind", "Source": str(tmp_path / "tree"), "Destination": "/opt/other", "RW": True},
        {"Type": "volume", "Name": "models", "Source": "/var/lib/docker/volumes/models/_data", "Destination": "/models",
         "RW": True},
    ]
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "data").mkdir()
    remote = container_record(data, local=False)
    assert [m.source_code for m in remote.mounts] == [True, False, False, False]  # the WORKDIR mount only
    local = container_record(data, local=True)
    assert [m.source_code for m in local.mounts] == [True, False, True, False]  # + a source tree found on disk
    assert local.mounts[3].describe() == "volume:/var/lib/docker/volumes/:/models:rw"


def test_cpu_quota_and_restart_retries():
    data = json.loads(json.dumps(LOOSE))
    data["HostConfig"].update(NanoCpus=0, CpuQuota=150_000, CpuPeriod=100_000,
                              RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 3})
    record = container_record(data)
    assert record.cpu_limit == 1.5 and record.restart_policy == "on-failure:3"
