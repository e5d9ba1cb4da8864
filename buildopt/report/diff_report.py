"""`buildopt diff` and `buildopt inspect` rendered as a terminal table, Markdown or JSON."""

from __future__ import annotations

import json

from tabulate import tabulate

from ..diff import ImageDiff, PackageChange
from ..inspect.model import GROUPS, ImageProfile
from ..units import format_size
from .markdown import escape

FORMATS = ("table", "json", "markdown")


def render_diff(diff: ImageDiff, fmt: str = "table", *, limit: int = 15) -> str:
    if fmt == "json":
        return json.dumps(diff.to_dict(), indent=2)
    markdown = fmt == "markdown"
    tablefmt = "github" if markdown else "simple"
    out: list[str] = []

    def heading(text: str) -> None:
        out.append(f"\n### {text}\n" if markdown else f"\n{text}\n{'-' * len(text)}")

    def table(rows, headers) -> None:
        if markdown:  # image refs, paths and package names are the images' own text
            rows = [[escape(cell) for cell in row] for row in rows]
        out.append(tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True))

    a, b = diff.a, diff.b
    out.append(f"## Image diff: `{escape(a.ref)}` → `{escape(b.ref)}`" if markdown else f"Image diff: {a.ref} -> {b.ref}")
    rows = [
        ("size (uncompressed)", format_size(a.size), format_size(b.size), _delta(diff.size_delta, a.size)),
        ("visible bytes", format_size(a.visible_size), format_size(b.visible_size), _delta(diff.visible_delta)),
        ("wasted bytes", format_size(a.wasted_bytes), format_size(b.wasted_bytes), _delta(diff.wasted_delta)),
    ]
    if a.compressed_size is not None and b.compressed_size is not None:  # diff.compressed_delta is not None
        rows.append(("compressed (gzip -6 est.)", format_size(a.compressed_size), format_size(b.compressed_size),
                     _delta(b.compressed_size - a.compressed_size, a.compressed_size)))
    rows += [
        ("layers", str(a.layers), str(b.layers), f"{diff.layer_delta:+d} ({diff.shared_layers} shared)"),
        ("files", f"{a.files:,}", f"{b.files:,}", f"{b.files - a.files:+,}"),
        ("user", a.user or "(root)", b.user or "(root)", "root -> non-root" if a.runs_as_root and not b.runs_as_root
         else ("non-root -> root" if b.runs_as_root and not a.runs_as_root else "")),
    ]
    if a.torch or b.torch:
        rows.append(("torch", a.torch or "-", b.torch or "-", ""))
    table(rows, ("", "A", "B", "delta"))

    groups = [g for g in diff.groups if g.delta]
    if groups:
        heading("Where the bytes went")
        table([(GROUPS.get(g.name, g.name), format_size(g.size_a), format_size(g.size_b), format_size(g.delta, signed=True))
               for g in sorted(groups, key=lambda g: g.delta)], ("group", "A", "B", "delta"))

    changes = diff.packages_removed + diff.packages_added + diff.packages_changed
    if changes:
        heading(f"Packages ({len(diff.packages_removed)} removed, {len(diff.packages_added)} added, "
                f"{len(diff.packages_changed)} changed)")
        ordered = sorted(changes, key=lambda p: (-abs(p.delta), p.name))
        table([_package_row(p) for p in ordered[:limit]], ("change", "package", "A", "B", "bytes"))
        if len(ordered) > limit:
            out.append(f"... {len(ordered) - limit} more (see --format json)")

    if diff.cuda_packages or diff.cuda_libraries or a.torch != b.torch:
        heading("CUDA")
        if a.torch != b.torch:
            out.append(f"torch: {a.torch or '-'} -> {b.torch or '-'}")
        cuda_total = sum(p.delta for p in diff.cuda_packages)
        if diff.cuda_packages:
            out.append(f"CUDA-related packages changed by {format_size(cuda_total, signed=True)}:")
            table([_package_row(p) for p in diff.cuda_packages[:limit]], ("change", "package", "A", "B", "bytes"))
        loose = [m for m in diff.cuda_libraries if not m.detail or m.detail == "torch"]
        if loose:
            table([(m.change, m.path_a or m.path_b, format_size(m.delta, signed=True)) for m in loose[:limit]],
                  ("change", "library (not in a CUDA wheel)", "bytes"))

    if diff.models:
        heading("Model files")
        table([(m.change, m.path_a or "-", m.path_b or "-", format_size(max(m.size_a, m.size_b)), m.detail)
               for m in diff.models[:limit]], ("change", "A", "B", "size", "format"))

    gained, lost = diff.dirs_gained(limit), diff.dirs_lost(limit)
    if lost:
        heading("Top directories lost")
        table([(d.name, format_size(d.size_a), format_size(d.size_b), format_size(d.delta, signed=True)) for d in lost],
              ("directory", "A", "B", "delta"))
    if gained:
        heading("Top directories gained")
        table([(d.name, format_size(d.size_a), format_size(d.size_b), format_size(d.delta, signed=True)) for d in gained],
              ("directory", "A", "B", "delta"))

    if diff.layers_only_a or diff.layers_only_b:
        heading("Layers not shared")
        unshared = [("A", layer.index, format_size(layer.size), _short(layer.created_by)) for layer in diff.layers_only_a]
        unshared += [("B", layer.index, format_size(layer.size), _short(layer.created_by)) for layer in diff.layers_only_b]
        table(unshared, ("image", "#", "size", "created by"))

    if diff.config_changes:
        heading("Config changes")
        table([(c.field, _value(c.a), _value(c.b), c.note) for c in diff.config_changes], ("field", "A", "B", "note"))
    for note in diff.notes:
        out.append(f"\nNote: {escape(note) if markdown else note}")
    return "\n".join(out).strip() + "\n"


def render_profile(profile: ImageProfile, fmt: str = "table", *, files: bool = False, limit: int = 15) -> str:
    if fmt == "json":
        return json.dumps(profile.to_dict(files=files), indent=2)
    out: list[str] = []
    config = profile.config
    rows = [
        ("image", profile.ref),
        ("id", profile.id[:19]),
        ("size (uncompressed)", f"{format_size(profile.size)} ({profile.size:,} B)"),
        ("visible bytes", format_size(profile.visible_size)),
        ("wasted bytes", f"{format_size(profile.wasted_bytes)} in {len(profile.wasted):,} hidden copies"),
    ]
    if profile.compressed_size is not None:
        rows.append(("compressed (gzip -6 est.)", format_size(profile.compressed_size)))
    rows += [
        ("layers / files", f"{len(profile.layers)} / {len(profile.files):,}"),
        ("os", profile.os_release or profile.os),
        ("user", (config.user or "(root)") + (" [root]" if config.runs_as_root else "")),
        ("healthcheck", " ".join(config.healthcheck) if config.healthcheck else "none"),
        ("entrypoint / cmd", f"{config.entrypoint or '-'} / {config.cmd or '-'}"),
        ("exposed ports", ", ".join(config.exposed_ports) or "-"),
        ("volumes", ", ".join(config.volumes) or "-"),
        ("reader", f"{profile.reader} ({profile.duration_s:.2f} s)"),
    ]
    if profile.cuda.torch_variant:
        rows.append(("torch", f"{profile.cuda.torch_version or '?'} ({profile.cuda.torch_variant})"))
    if profile.cuda.present:
        rows.append(("CUDA bytes", format_size(profile.cuda.total_bytes)))
    if profile.build_tools:
        rows.append(("build tools", ", ".join(profile.build_tools[:8])))
    out.append(tabulate(rows, tablefmt="plain", disable_numparse=True))

    def section(title: str, rows, headers) -> None:
        if rows:
            out.append(f"\n{title}\n{'-' * len(title)}")
            out.append(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))

    section("Layers", [(layer.index, format_size(layer.size), f"{layer.files:,}", format_size(layer.wasted),
                        _short(layer.created_by)) for layer in profile.layers],
            ("#", "size", "files", "hidden later", "created by"))
    section("Where the bytes are", [(GROUPS[key], format_size(size)) for key, size in
                                     sorted(profile.groups.items(), key=lambda item: -item[1]) if size],
            ("group", "bytes"))
    section("Top directories", [(d.path, format_size(d.size), f"{d.files:,}") for d in profile.top_dirs(limit)],
            ("directory", "size", "files"))
    largest = sorted(profile.packages, key=lambda p: -p.size)[:limit]
    section("Largest packages", [(p.manager, p.name, p.version, format_size(p.size)) for p in largest],
            ("type", "package", "version", "size"))
    section("Model files", [(m.path, format_size(m.size), m.format) for m in profile.models[:limit]],
            ("path", "size", "format"))
    section("Wasted (hidden copies)", [(w.path, format_size(w.size), w.layer, w.hidden_by, w.reason)
                                       for w in profile.wasted[:limit]], ("path", "size", "layer", "hidden by", "why"))
    section("Caches", [(c.path, format_size(c.size), f"{c.files:,}") for c in profile.caches], ("dir", "size", "files"))
    return "\n".join(out) + "\n"


def _package_row(change: PackageChange) -> tuple:
    version_a = change.version_a or "-"
    version_b = change.version_b or "-"
    return (change.change, f"{change.name} ({change.manager})", version_a if change.change != "added" else "-",
            version_b if change.change != "removed" else "-",
            format_size(change.delta, signed=True))


def _delta(delta: int, base: int | None = None) -> str:
    text = format_size(delta, signed=True)
    if base:
        text += f" ({100.0 * delta / base:+.1f} %)"
    return text


def _short(text: str, width: int = 70) -> str:
    text = text.replace("/bin/sh -c ", "").removesuffix(" # buildkit").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " ".join(str(item) for item in value) or "[]"
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"
