"""Audit inventory and categories: names, categories, history steps, df records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildopt.audit import categories
from buildopt.audit.inventory import Inventory, _record, clean_created_by, number_layers

DATA = Path(__file__).resolve().parent.parent / "data" / "audit"
# Recorded from the real engine (tests/data/audit/README.md).
RECORDED = json.loads((DATA / "images-inspect-history.json").read_text())


@pytest.mark.parametrize("ref, registry, repository, tag, short", [
    ("python:3.11-slim", "docker.io", "library/python", "3.11-slim", "python"),
    ("infiniflow/ragflow:v0.21.0-slim", "docker.io", "infiniflow/ragflow", "v0.21.0-slim", "infiniflow/ragflow"),
    ("ghcr.io/remsky/kokoro-fastapi-cpu:latest", "ghcr.io", "remsky/kokoro-fastapi-cpu", "latest",
     "ghcr.io/remsky/kokoro-fastapi-cpu"),
    ("localhost:5000/team/app", "localhost:5000", "team/app", "latest", "localhost:5000/team/app"),
    ("mongo@sha256:abc", "docker.io", "library/mongo", "", "mongo"),
    ("paperflow_paperflow-worker:latest", "docker.io", "library/paperflow_paperflow-worker", "latest",
     "paperflow_paperflow-worker"),
])
def test_parse_name(ref, registry, repository, tag, short):
    name = categories.parse_name(ref)
    assert (name.registry, name.repository, name.tag, name.short) == (registry, repository, tag, short)


@pytest.mark.parametrize("tags, digests, expected", [
    # the second audit's rows
    (["whisperx_whisperx:latest"], [], "custom"),  # built on the host: no digest
    (["infiniflow/ragflow:v0.21.0-slim"], ["infiniflow/ragflow@sha256:1"], "third-party"),
    (["ghcr.io/remsky/kokoro-fastapi-cpu:latest"], ["ghcr.io/remsky/kokoro-fastapi-cpu@sha256:2"], "third-party"),
    (["calcom/cal.com:latest"], ["calcom/cal.com@sha256:3"], "third-party"),
    (["mongo:7"], ["mongo@sha256:4"], "official"),
    (["elasticsearch:8.11.1"], ["elasticsearch@sha256:5"], "official"),
    (["docker.elastic.co/elasticsearch/elasticsearch:8.11"], ["docker.elastic.co/elasticsearch/elasticsearch@sha256:6"],
     "official"),
    (["redis:7-alpine"], [], "official"),  # a loaded official image: known library name
    (["myapp:latest"], [], "custom"),  # a bare local tag is not an official image
    ([], ["library/someimage@sha256:7"], "official"),  # pulled from docker.io/library
])
def test_categorize(tags, digests, expected):
    assert categories.categorize(tags, digests) == expected


def test_kind_of_name():
    assert categories.kind_of_name(["postgres:17-alpine"], []) == "database"
    assert categories.kind_of_name(["grafana/grafana:latest"], []) == "infrastructure"
    assert categories.kind_of_name(["python:3.11-slim"], []) == "base"
    assert categories.kind_of_name(["whisperx_whisperx:latest"], []) is None


def test_history_numbers_layers_like_the_image():
    history = number_layers(RECORDED["history"], len(RECORDED["image_inspect"]["RootFS"]["Layers"]))
    assert [step.created_by for step in history] == [
        "", "RUN useradd --uid 10001 app", "USER app", history[3].created_by, 'CMD ["sleep" "infinity"]']
    assert history[3].created_by.startswith("HEALTHCHECK")
    assert [step.index for step in history] == [0, 1, None, None, None]
    assert history[0].size == 190_846_004 and history[0].comment == "Imported from -"


def test_history_leaves_indexes_out_when_the_count_disagrees():
    steps = number_layers(RECORDED["history"], layer_count=7)
    assert all(step.index is None for step in steps)


def test_clean_created_by():
    assert clean_created_by("/bin/sh -c #(nop)  ENV A=b") == "ENV A=b"
    assert clean_created_by("/bin/sh -c apt-get update &&     apt-get install -y git") == \
        "RUN apt-get update && apt-get install -y git"
    assert clean_created_by("RUN /bin/sh -c pip install x # buildkit") == "RUN pip install x"
    assert clean_created_by("|2 A=1 B=2 /bin/sh -c make") == "RUN make"
    assert clean_created_by("COPY . /app # buildkit") == "COPY . /app"


def test_df_record_sizes_and_dangling_total():
    # Shape of one `client.df()["Images"]` entry on Docker 26 (recorded: the engine's own output).
    entry = {"Containers": 2, "Created": 1795334240, "Id": "sha256:" + "a" * 64, "Labels": None, "ParentId": "",
             "RepoDigests": None, "RepoTags": ["app:1", "app:latest"], "SharedSize": 190_846_004, "Size": 224_056_608}
    record = _record(entry, dangling=False)
    assert record.unique_size == 224_056_608 - 190_846_004
    assert record.created == "2026-11-22T07:57:20Z"
    assert record.short_id == "a" * 12 and record.name == "app" and record.tags == ["1", "latest"]
    assert record.category == "custom"
    dangling = _record({**entry, "RepoTags": ["<none>:<none>"], "SharedSize": -1, "Containers": -1}, dangling=True)
    assert dangling.repo_tags == () and dangling.name == "<none>" and dangling.unique_size == dangling.size
    inventory = Inventory(images=[record], dangling=[dangling], layers_size=1)
    assert inventory.total_size == 2 * 224_056_608
    assert inventory.dangling_unique == 224_056_608
