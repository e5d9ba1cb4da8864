"""Who owns an image: built here (custom), pulled from a vendor (third-party), or an official/database image.

The audits treat them differently: custom images get rebuilt, third-party ones get a verdict (accept the
size, or ask upstream), official and database images are left alone. The signal is the engine's own
record: an image built on the host has no RepoDigests (nothing was pulled), a pulled one has one per
registry. Names then separate official (docker.io/library/*, known databases) from other vendors.
`docker load` drops digests, so a loaded vendor image counts as custom unless its name is known.
"""

from __future__ import annotations

from dataclasses import dataclass

CUSTOM = "custom"
THIRD_PARTY = "third-party"
OFFICIAL = "official"
LABELS = {CUSTOM: "custom-built", THIRD_PARTY: "third-party", OFFICIAL: "official/database"}

# Docker Official Images people run on servers (docker.io/library/<name>).
OFFICIAL_LIBRARY = frozenset({
    "alpine", "amazonlinux", "busybox", "caddy", "debian", "eclipse-temurin", "elasticsearch", "golang",
    "haproxy", "httpd", "influxdb", "kibana", "logstash", "mariadb", "memcached", "mongo", "mysql", "neo4j",
    "nextcloud", "nginx", "node", "openjdk", "postgres", "python", "rabbitmq", "redis", "registry", "rust",
    "traefik", "ubuntu", "wordpress", "cassandra", "couchdb", "solr", "zookeeper", "telegraf", "ghost",
    "php", "ruby", "tomcat", "bash", "docker", "gradle", "maven", "percona", "varnish", "sonarqube",
})
# Database and search engines published by their vendors (the audits' "DB" rows).
DATABASES = frozenset({
    "postgres", "mysql", "mariadb", "mongo", "redis", "memcached", "cassandra", "couchdb", "neo4j",
    "influxdb", "elasticsearch", "solr", "percona", "docker.elastic.co/elasticsearch/elasticsearch",
    "opensearchproject/opensearch", "valkey/valkey", "redis/redis-stack", "redis/redis-stack-server",
    "clickhouse/clickhouse-server", "qdrant/qdrant", "chromadb/chroma", "milvusdb/milvus",
    "semitechnologies/weaviate", "minio/minio", "pgvector/pgvector", "timescale/timescaledb",
    "supabase/postgres", "bitnami/postgresql", "bitnami/mysql", "bitnami/mariadb", "bitnami/mongodb",
    "bitnami/redis", "bitnami/elasticsearch", "bitnami/rabbitmq", "rabbitmq", "ankane/pgvector",
    "mongodb/mongodb-community-server", "neo4j/neo4j", "getmeili/meilisearch", "typesense/typesense",
})
INFRASTRUCTURE = frozenset({
    "nginx", "traefik", "caddy", "haproxy", "httpd", "registry", "grafana/grafana", "prom/prometheus",
    "prom/node-exporter", "prom/alertmanager", "portainer/portainer-ce", "containrrr/watchtower",
    "gcr.io/cadvisor/cadvisor", "nginxproxy/nginx-proxy", "jc21/nginx-proxy-manager", "certbot/certbot",
    "grafana/loki", "grafana/promtail", "louislabs/dockge", "amir20/dozzle", "moby/buildkit",
})
BASE_IMAGES = frozenset({
    "alpine", "debian", "ubuntu", "busybox", "python", "node", "golang", "rust", "openjdk", "eclipse-temurin",
    "amazonlinux", "php", "ruby", "bash", "docker", "gradle", "maven",
})


@dataclass(frozen=True)
class ImageName:
    registry: str  # "docker.io", "ghcr.io", "" for a local name
    repository: str  # "library/python", "remsky/kokoro-fastapi-cpu", "paperflow_paperflow-worker"
    tag: str

    @property
    def short(self) -> str:
        """The name as people write it: `python`, `infiniflow/ragflow`, `ghcr.io/remsky/kokoro-fastapi-cpu`."""
        repo = self.repository.removeprefix("library/") if self.registry in ("docker.io", "") else self.repository
        return repo if self.registry in ("docker.io", "") else f"{self.registry}/{repo}"


def parse_name(ref: str) -> ImageName:
    """Split `ghcr.io/org/img:tag` (or `img@sha256:...`) into registry, repository and tag."""
    name, _, digest = ref.partition("@")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, repository = parts[0], "/".join(parts[1:])
    else:
        registry, repository = "docker.io", name
    if registry == "index.docker.io":
        registry = "docker.io"
    if registry == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    return ImageName(registry, repository, tag or ("" if digest else "latest"))


def categorize(repo_tags: list[str], repo_digests: list[str]) -> str:
    """custom, third-party or official for an image's tags and digests (see the module docstring)."""
    for name in map(parse_name, repo_digests or []):
        # Pulled from docker.io/library: official whatever its name.
        if (name.registry == "docker.io" and name.repository.startswith("library/")) or name.short in DATABASES:
            return OFFICIAL
    for name in map(parse_name, repo_tags or []):
        # A bare local tag (myapp:latest) is not proof of an official image; a known library name is.
        library = name.registry == "docker.io" and name.repository.startswith("library/")
        if (library and name.short in OFFICIAL_LIBRARY) or name.short in DATABASES:
            return OFFICIAL
    return THIRD_PARTY if repo_digests else CUSTOM


def kind_of_name(repo_tags: list[str], repo_digests: list[str]) -> str | None:
    """database, infrastructure or base when the name says so; None leaves it to the image's contents."""
    for name in (parse_name(ref) for ref in (repo_digests or repo_tags)):
        short = name.short
        if short in DATABASES:
            return "database"
        if short in INFRASTRUCTURE:
            return "infrastructure"
        if short in BASE_IMAGES and name.registry == "docker.io":
            return "base"
    return None
