"""Draft an upstream issue for a third-party image whose measured waste is worth a maintainer's time.

Like the second audit's kokoro issue: which layer, the build step that made it, what it holds, how many
bytes, and the multi-stage fix, with the figures' basis stated. It is a draft for a human to post.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..units import format_size
from .findings import FILES, LAYER, LAYER_SIZE, Finding, LayerPart
from .savings import Savings, worth_asking_upstream

_WHAT = {
    "build-toolchain": "build toolchain",
    "package-cache": "package manager caches",
    "hidden-copies": "files deleted or overwritten by later layers",
}
_BASIS = {
    FILES: "summed from the image's files",
    LAYER: LAYER_SIZE,
}


@dataclass(frozen=True)
class UpstreamDraft:
    image: str  # the reference the draft is about
    title: str
    body: str  # markdown
    bytes: int


def draft_issue(ref: str, size: int, findings: list[Finding], savings: Savings) -> UpstreamDraft | None:
    """None unless the upstream waste is worth asking for (savings.worth_asking_upstream)."""
    waste = [finding for finding in findings if finding.upstream and finding.bytes > 0]
    total = savings.upstream_gain
    if not waste or not worth_asking_upstream(size, total):
        return None
    percent = round(100 * total / size) if size else 0
    rows = []
    for finding in waste:
        what = _WHAT.get(finding.slug, finding.title)
        for part in finding.parts or (LayerPart(finding.layer, finding.created_by, _holds(finding), finding.bytes),):
            layer = "?" if part.layer is None else str(part.layer)
            step = f"`{_clip(part.created_by, 90)}`" if part.created_by else "-"
            basis = part.basis or _BASIS.get(finding.basis, "an estimate")
            rows.append(f"| {layer} | {step} | {what}: {_clip(part.holds, 70)} | {format_size(part.bytes)} ({basis}) |")
    tools = next((f for f in waste if f.slug == "build-toolchain"), None)
    tool_names = ", ".join(part.holds for part in tools.parts) if tools and tools.parts else ""
    lines = [
        f"Current image size: **{format_size(size)}** (`{ref}`, uncompressed, as `docker images` shows it).",
        "",
        "The runtime image carries things only the build needs (measured with `buildopt audit`):",
        "",
        "| layer | build step | holds | bytes |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Potential size: **~{format_size(size - total)}** (-{format_size(total)}, -{percent}%) with a multi-stage build:",
        "",
        "```dockerfile",
        "FROM <base> AS builder",
        "# build tools live only here" + (f": {tool_names}" if tool_names else ""),
        "RUN <install compilers / rustup / git> && <build the venv or wheels, with --no-cache-dir>",
        "",
        "FROM <base>",
        "RUN apt-get update && apt-get install -y --no-install-recommends <runtime packages only> \\",
        "    && rm -rf /var/lib/apt/lists/*",
        "COPY --from=builder /app/.venv /app/.venv",
        "```",
        "",
        "Would you accept a PR implementing it?",
    ]
    title = f"Multi-stage build to reduce the image size by ~{percent}% ({format_size(total)})"
    return UpstreamDraft(image=ref, title=title, body="\n".join(lines), bytes=total)


def _holds(finding: Finding) -> str:
    if finding.evidence:
        return "; ".join(_clip(item, 70) for item in finding.evidence[:3])
    return finding.detail


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"
