"""The base image: eol-python (BO110), full-base-image (BO111), latest-tag (BO112)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from ..dockerfile import Instruction, Stage
from ..severity import Severity
from .base import Rule
from .context import RuleContext, StageFacts

# End of life per python.org's release status (the month; the last day of it is used).
PYTHON_EOL: dict[tuple[int, int], tuple[int, int]] = {
    (2, 7): (2020, 1), (3, 5): (2020, 9), (3, 6): (2021, 12), (3, 7): (2023, 6), (3, 8): (2024, 10),
    (3, 9): (2025, 10), (3, 10): (2026, 10), (3, 11): (2027, 10), (3, 12): (2028, 10), (3, 13): (2029, 10),
    (3, 14): (2030, 10),
}
# The python3 a distribution release ships, for `FROM debian:bullseye` + `apt-get install python3`.
DISTRO_PYTHON: dict[tuple[str, str], tuple[int, int]] = {
    ("debian", "buster"): (3, 7), ("debian", "10"): (3, 7), ("debian", "bullseye"): (3, 9), ("debian", "11"): (3, 9),
    ("debian", "bookworm"): (3, 11), ("debian", "12"): (3, 11), ("debian", "trixie"): (3, 13), ("debian", "13"): (3, 13),
    ("ubuntu", "18.04"): (3, 6), ("ubuntu", "bionic"): (3, 6), ("ubuntu", "20.04"): (3, 8), ("ubuntu", "focal"): (3, 8),
    ("ubuntu", "22.04"): (3, 10), ("ubuntu", "jammy"): (3, 10), ("ubuntu", "24.04"): (3, 12), ("ubuntu", "noble"): (3, 12),
}


@dataclass(frozen=True)
class ImageRef:
    registry: str | None
    repository: str  # e.g. "library/python" or "python"
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The last path component: python, debian, ubuntu..."""
        return self.repository.rsplit("/", 1)[-1].lower()


def parse_image(ref: str) -> ImageRef:
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    registry = None
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts[0]
        parts = parts[1:]
    path = "/".join(parts)
    tag = None
    if ":" in parts[-1]:
        path, tag = path.rsplit(":", 1)
    return ImageRef(registry, path, tag, digest)


def python_of_tag(tag: str | None) -> tuple[int, int] | None:
    match = re.match(r"^(\d)\.(\d+)", tag or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def eol_date(version: tuple[int, int]) -> date | None:
    month = PYTHON_EOL.get(version)
    if month is None:
        return None
    return date(month[0], month[1], calendar.monthrange(*month)[1])


def _root(facts: StageFacts) -> StageFacts:
    return facts.chain()[-1]


class EolPython(Rule):
    id = "BO110"
    slug = "eol-python"
    severity = Severity.MEDIUM
    title = "The base Python is past or near its end of life"
    fix = "Move to a supported Python (e.g. python:3.12-slim) and rebuild; check the app's dependencies support it."
    scope = "final stage and the local stages it is built FROM"

    def check(self, ctx: RuleContext):
        root = _root(ctx.final)
        image = parse_image(root.stage.base_resolved)
        version = python_of_tag(image.tag) if image.name == "python" and not root.base_unresolved else None
        where: Stage | Instruction = root.stage
        origin = f"base image {root.stage.base_resolved}"
        if version is None:
            for facts in ctx.final.chain()[::-1]:
                for site in facts.runs:
                    for call in site.packages:
                        if not call.installs:
                            continue
                        for package in call.packages:
                            found = re.match(r"^python(\d)\.(\d+)(?:$|[-=:])", package)
                            if found:
                                version, where, origin = (int(found.group(1)), int(found.group(2))), site.ins, f"apt package {package}"
                            elif package.split("=")[0] in ("python3", "python3-minimal") and version is None:
                                distro = DISTRO_PYTHON.get((image.name, (image.tag or "").split("-")[0]))
                                if distro:
                                    version, where, origin = distro, site.ins, f"python3 from {root.stage.base_resolved}"
        if version is None:
            return
        end = eol_date(version)
        if end is None:
            return
        label = f"Python {version[0]}.{version[1]}"
        month = f"{end.year}-{end.month:02d}"
        days = (ctx.today - end).days
        if days > 0:
            severity = Severity.HIGH if days >= 365 else Severity.MEDIUM
            yield self.finding(where, f"{label} ({origin}) reached end of life in {month}: no more security fixes",
                               severity=severity)
        elif -days <= 365:
            yield self.finding(where, f"{label} ({origin}) is near end of life: {month}", severity=Severity.LOW)


class FullBaseImage(Rule):
    id = "BO111"
    slug = "full-base-image"
    severity = Severity.MEDIUM
    title = "The final image is built on the full python image instead of -slim"
    fix = "Use the -slim variant (python:3.12-slim); install the few runtime libraries the app needs with apt."
    scope = "the image at the bottom of the final stage's FROM chain"

    def check(self, ctx: RuleContext):
        root = _root(ctx.final)
        image = parse_image(root.stage.base_resolved)
        if image.name != "python" or "$" in root.stage.base_resolved or root.base_unresolved:
            return
        tag = (image.tag or "latest").lower()
        if any(variant in tag for variant in ("slim", "alpine", "windowsservercore", "nanoserver")):
            return
        yield self.finding(root.stage, f"FROM {root.stage.base_resolved} is the full Debian-based image with compilers "
                                       f"and headers; the final image needs only python:{_slim(tag)}")


def _slim(tag: str) -> str:
    version = re.match(r"^(\d[\d.]*)", tag)
    return f"{version.group(1)}-slim" if version else "3.12-slim"


class LatestTag(Rule):
    id = "BO112"
    slug = "latest-tag"
    severity = Severity.MEDIUM
    title = "A base image is used without a tag or with :latest"
    fix = "Pin the base image to a version tag (python:3.12-slim), ideally with a digest (@sha256:...)."
    scope = "every stage"

    def check(self, ctx: RuleContext):
        for stage in ctx.dockerfile.stages:
            base = stage.base_resolved
            if not base or "$" in base or base.lower() == "scratch":
                continue
            facts = ctx.facts[stage.index]
            if facts.parent is not None or facts.base_candidates or facts.base_unresolved:
                continue  # a local stage (`FROM runtime-${VARIANT}` included), or a build arg the build passes
            image = parse_image(base)
            if image.digest:
                continue
            if image.tag is None:
                yield self.finding(stage, f"FROM {base} has no tag: Docker takes :latest, which changes under you")
            elif image.tag.lower() == "latest":
                yield self.finding(stage, f"FROM {base} uses :latest, which changes under you")
