"""promote's pure parts: backup tag names, the state and override files, probe choice, GPU evidence,
mount carry-over, env changes, the reclaim figure and the report's log tail. No Docker.

Recorded JSON: the HostConfig.DeviceRequests values below were read with `docker inspect` on Docker 26.1.5
(no GPU) after `docker create --gpus all`, `docker create --gpus '"device=0,1"'` and `docker compose create`
of a service with `deploy.resources.reservations.devices: [{driver: nvidia, count: all, capabilities: [gpu]}]`
(compose 2.26.1); the service configs are `docker compose config --format json` output of the same version.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from buildopt.audit.inventory import ImageRecord
from buildopt.errors import BadInput
from buildopt.promote import Reclaim, _reclaim
from buildopt.promote.backup import (
    ImageUsage,
    backup_tag_for,
    backup_time,
    find_backups,
    is_tag,
    repository_of,
)
from buildopt.promote.health import choose_probe, effective_healthcheck, healthcheck_interval
from buildopt.promote.preflight import ImageInfo, _env_changes, _gpu_from_compose, _gpu_from_container, _mount_check
from buildopt.promote.project import ComposeService, find_compose_file
from buildopt.promote.state import (
    PROMOTED,
    ROLLED_BACK,
    PromoteState,
    Promotion,
    is_override_file,
    load_state,
    override_name,
    override_text,
    write_override,
)
from buildopt.promote.swap import missing_mounts
from buildopt.report.promote_report import _collapsed
from buildopt.smoke import HttpProbe

GPUS_ALL = {"DeviceRequests": [{"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}],
            "Runtime": "runc", "Devices": []}
GPUS_TWO = {"DeviceRequests": [{"Driver": "", "Count": 0, "DeviceIDs": ["0", "1"], "Capabilities": [["gpu"]], "Options": {}}]}
COMPOSE_RESERVATION = {"DeviceRequests": [{"Driver": "nvidia", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]],
                                           "Options": None}]}
NO_GPU = {"DeviceRequests": None, "Runtime": "runc", "Devices": []}
GPU_SERVICE = {"deploy": {"resources": {"reservations": {"devices": [
    {"capabilities": ["gpu"], "driver": "nvidia", "count": -1}]}}, "placement": {}}, "gpus": [{"count": -1}],
    "image": "app:1"}
ANONYMOUS = "1a574169828f64507919ef1c3ac08eb1d4ce4566b2b63b910bb35d0db5061676"


@pytest.mark.parametrize(("ref", "repository"), [
    ("app:latest", "app"), ("app", "app"), ("team/app:1.2", "team/app"),
    ("registry:5000/team/app:1.2", "registry:5000/team/app"), ("registry:5000/app", "registry:5000/app"),
    ("app@sha256:" + "a" * 64, "app"), ("shop-web", "shop-web"),
])
def test_repository_of(ref, repository):
    assert repository_of(ref) == repository


def test_backup_tag_format_round_trips():
    when = datetime(2026, 12, 1, 15, 11, 0, tzinfo=UTC)
    tag = backup_tag_for("registry:5000/team/app:1.2", when)
    assert tag == "registry:5000/team/app:buildopt-backup-20261201T151100Z"
    assert backup_time(tag) == when
    assert backup_time("app:latest") is None and backup_time("app:buildopt-backup-yesterday") is None
    assert is_tag("app:1") and not is_tag("app@sha256:" + "a" * 64) and not is_tag("sha256:" + "b" * 64)


def record(tags, containers=0, size=300, shared=100) -> ImageRecord:
    return ImageRecord(id="sha256:" + "c" * 64, repo_tags=tuple(tags), repo_digests=(), created="", size=size,
                       shared_size=shared, containers=containers)


def test_find_backups_frees_only_what_nothing_else_holds():
    alone = find_backups([record(["app:buildopt-backup-20261201T151100Z"])])
    assert [(b.frees, b.held_by) for b in alone] == [(200, ())]
    assert alone[0].prune_command == "docker image rm app:buildopt-backup-20261201T151100Z"
    tagged = find_backups([record(["app:latest", "app:buildopt-backup-20261201T151100Z"])])
    assert tagged[0].frees == 0 and tagged[0].held_by == ("app:latest",)
    used = find_backups([record(["app:buildopt-backup-20261201T151100Z"], containers=1)])
    assert used[0].frees == 0 and used[0].held_by == ("1 container(s)",)
    # two backups of one image: each one's prune names both, and together they free the bytes
    two = find_backups([record(["app:buildopt-backup-20261201T151100Z", "app:buildopt-backup-20261202T090000Z"])])
    assert [b.tag for b in two] == ["app:buildopt-backup-20261202T090000Z", "app:buildopt-backup-20261201T151100Z"]
    assert two[0].frees == 200 and two[0].prune_command.split()[3:] == [two[0].tag, two[1].tag]
    assert find_backups([record(["app:latest"])]) == []


def promotion(service="web", status=PROMOTED, override_image="app:opt", **extra) -> Promotion:
    fields = dict(service=service, status=status, started="2026-12-01T15:11:00Z", config_files=["/srv/compose.yaml"],
                  env_files=[], working_dir="/srv", service_ref="app:latest", old_image_id="sha256:old", old_size=300,
                  backup_tag="app:buildopt-backup-20261201T151100Z", new_ref="app:opt", new_image_id="sha256:new",
                  new_size=100, override_image=override_image)
    return Promotion(**{**fields, **extra})


def test_state_keeps_each_project_in_one_file(tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text("services: {}\n")
    shop = load_state(compose, "shop")
    shop.promotions.append(promotion())
    shop.save()
    other = load_state(compose, "shop-staging")
    assert other.promotions == []
    other.promotions.append(promotion(service="worker"))
    other.save()
    document = json.loads((tmp_path / "buildopt-promote.json").read_text())
    assert document["schema"] == "buildopt.promote/v1" and set(document["projects"]) == {"shop", "shop-staging"}
    again = load_state(compose, "shop")
    assert again.promotions == [promotion()]
    assert again.override_path == tmp_path / "buildopt-promote.shop.override.yml"


def test_override_is_rendered_from_the_latest_records_and_removed_when_empty(tmp_path):
    state = PromoteState(path=tmp_path / "buildopt-promote.json", project="shop", compose_file="compose.yaml")
    state.promotions += [promotion(), promotion(service="api", override_image="api:opt"),
                         promotion(status=ROLLED_BACK, override_image=None)]  # web rolled back since
    path = write_override(state)
    assert path == tmp_path / override_name("shop") and is_override_file(path)
    assert yaml.safe_load(path.read_text()) == {"services": {"api": {"image": "api:opt"}}}
    state.promotions.append(promotion(service="api", status=ROLLED_BACK, override_image=None))
    assert write_override(state) is None and not path.exists()


def test_override_quotes_any_reference():
    text = override_text({"web": "registry:5000/team/app:1.2", "odd-name.1": "app@sha256:" + "a" * 64})
    assert yaml.safe_load(text) == {"services": {"web": {"image": "registry:5000/team/app:1.2"},
                                                 "odd-name.1": {"image": "app@sha256:" + "a" * 64}}}


def test_a_state_file_of_another_kind_is_bad_input(tmp_path):
    compose = tmp_path / "compose.yaml"
    (tmp_path / "buildopt-promote.json").write_text('{"schema": "something/v9"}')
    with pytest.raises(BadInput, match="not a buildopt promote state file"):
        load_state(compose, "shop")


def test_probe_order_command_then_healthcheck_then_http_then_running():
    check = ["CMD", "curl", "-f", "http://localhost/health"]
    http = HttpProbe(port=8000, path="/ready")
    assert choose_probe(command="test -f /tmp/ok", healthcheck=check, http=http).kind == "command"
    assert choose_probe(command=None, healthcheck=check, http=http).kind == "healthcheck"
    chosen = choose_probe(command=None, healthcheck=None, http=http)
    assert (chosen.kind, chosen.port, chosen.path) == ("http", 8000, "/ready")
    weak = choose_probe(command=None, healthcheck=None, http=None, settle_s=7)
    assert weak.kind == "running" and weak.settle_s == 7 and "only checks that it keeps running for 7 s" in weak.detail
    assert "trivial" in choose_probe(command=None, healthcheck=["CMD-SHELL", "exit 0"]).detail
    assert choose_probe(command=None, healthcheck=["CMD-SHELL", "exit 0"], http=http).kind == "http"


def test_effective_healthcheck_compose_wins_over_the_image():
    image = {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"]}}
    assert effective_healthcheck({}, image) == ["CMD-SHELL", "curl -f localhost"]
    assert effective_healthcheck({"healthcheck": {"test": ["CMD", "true"], "interval": "2s"}}, image) == ["CMD", "true"]
    assert effective_healthcheck({"healthcheck": {"interval": "2s"}}, image) == ["CMD-SHELL", "curl -f localhost"]
    assert effective_healthcheck({"healthcheck": {"disable": True}}, image) is None
    assert effective_healthcheck({}, {"Healthcheck": {"Test": ["NONE"]}}) is None
    assert effective_healthcheck({"healthcheck": {"test": "pg_isready"}}, {}) == ["CMD-SHELL", "pg_isready"]


def test_healthcheck_interval_compose_then_image_then_docker_default():
    image = {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 60_000_000_000}}
    assert healthcheck_interval({}, image) == 60
    assert healthcheck_interval({"healthcheck": {"interval": "1m30s"}}, image) == 90
    assert healthcheck_interval({"healthcheck": {"interval": "500ms"}}, image) == 0.5
    assert healthcheck_interval({}, {"Healthcheck": {"Test": ["CMD", "true"]}}) == 30
    slow = choose_probe(command=None, healthcheck=["CMD", "check"], interval_s=60)
    assert "every 60 s" in slow.detail and "every" not in choose_probe(command=None, healthcheck=["CMD", "check"],
                                                                         interval_s=1).detail


def test_gpu_evidence_from_recorded_host_configs():
    assert _gpu_from_container({"HostConfig": NO_GPU}) == []
    assert _gpu_from_container({"HostConfig": GPUS_ALL}) == [
        "device request on the container: driver (any), capabilities gpu, count all"]
    assert _gpu_from_container({"HostConfig": GPUS_TWO}) == [
        "device request on the container: driver (any), capabilities gpu, count ids 0,1"]
    assert _gpu_from_container({"HostConfig": COMPOSE_RESERVATION}) == [
        "device request on the container: driver nvidia, capabilities gpu, count all"]
    legacy = {"Runtime": "nvidia", "Devices": [{"PathOnHost": "/dev/nvidia0", "PathInContainer": "/dev/nvidia0",
                                                "CgroupPermissions": "rwm"}]}
    assert len(_gpu_from_container({"HostConfig": legacy})) == 2
    assert _gpu_from_compose(GPU_SERVICE) == ["compose device reservation: driver nvidia, capabilities gpu",
                                              "compose `gpus:` on the service"]
    assert _gpu_from_compose({"image": "app:1"}) == []


def service(config: dict) -> ComposeService:
    return ComposeService(name="web", project="shop", compose_file=Path("/srv/compose.yaml"),
                          config_files=(Path("/srv/compose.yaml"),), env_files=(), working_dir=Path("/srv"),
                          config=config, project_config={"services": {"web": config, "worker": {"image": "app:1"}}})


def image(volumes=(), env=None) -> ImageInfo:
    return ImageInfo(ref="app:opt", id="sha256:new", size=1, user="", env=env or {}, volumes=tuple(volumes),
                     healthcheck=None, config={})


def test_anonymous_volumes_must_be_declared_to_be_carried_over():
    mount = {"Type": "volume", "Name": ANONYMOUS, "Destination": "/anon", "RW": True}
    assert not _mount_check(mount, service({}), image()).carried
    assert _mount_check(mount, service({}), image(volumes=["/anon"])).carried
    declared = service({"volumes": [{"type": "volume", "target": "/anon", "volume": {}}]})
    assert _mount_check(mount, declared, image()).carried
    named = {"Type": "volume", "Name": "shop_data", "Destination": "/data", "RW": True}
    check = _mount_check(named, service({}), image())
    assert check.carried and not check.anonymous and check.describe() == "volume shop_data -> /data (rw)"


def test_env_changes_list_what_the_old_image_set_and_compose_does_not():
    old = {"PATH": "/usr/bin", "MODEL_DIR": "/app/models", "LANG": "C.UTF-8", "TOKEN": "x"}
    new = {"PATH": "/opt/venv/bin:/usr/bin", "LANG": "C.UTF-8"}
    changes = _env_changes(old, new, compose={"TOKEN": "from-compose"})
    assert [(c.key, c.old, c.new) for c in changes] == [("MODEL_DIR", "/app/models", None),
                                                        ("PATH", "/usr/bin", "/opt/venv/bin:/usr/bin")]


def test_other_services_sharing_the_tag_are_found():
    assert service({"image": "app:1"}).other_services_using("app:1") == ["worker"]
    assert service({}).image_ref == "shop-web"


def test_missing_mounts_compares_volumes_and_binds_by_place():
    old = [{"Type": "volume", "Name": "shop_data", "Destination": "/data"},
           {"Type": "bind", "Source": "/srv/conf", "Destination": "/conf"}]
    assert missing_mounts(old, {"Mounts": old}) == []
    assert missing_mounts(old, {"Mounts": old[:1]}) == ["bind /srv/conf -> /conf"]
    moved = [{"Type": "volume", "Name": "other", "Destination": "/data"}, old[1]]
    assert missing_mounts(old, {"Mounts": moved}) == ["volume shop_data -> /data"]


def test_reclaim_counts_only_what_the_backup_alone_holds():
    done = promotion(backup_tag="app:buildopt-backup-20261201T151100Z")
    alone = ImageUsage(size=300, unique_size=220, containers=0, tags=("app:buildopt-backup-20261201T151100Z",))
    assert _reclaim(done, alone, []) == Reclaim(300, 100, 220, ())
    kept = ImageUsage(size=300, unique_size=220, containers=0, tags=("app:buildopt-backup-20261201T151100Z", "app:v1"))
    assert _reclaim(done, kept, ["worker"]) == Reclaim(300, 100, 0, ("app:v1", "service worker"))


def test_find_compose_file_like_docker_compose(tmp_path):
    with pytest.raises(BadInput, match="no compose file"):
        find_compose_file(None, tmp_path)
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    assert find_compose_file(None, tmp_path) == (tmp_path / "docker-compose.yml").resolve()
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    assert find_compose_file(None, tmp_path).name == "compose.yaml"
    with pytest.raises(BadInput, match="no such compose file"):
        find_compose_file(tmp_path / "missing.yml")


def test_log_tail_collapses_repeated_lines():
    assert _collapsed(["a", "b", "b", "b", "c"]) == ["  | a", "  | b   (x3)", "  | c"]
