"""The HTML report of `compare`, `diff` and `audit`: one self-contained file (inline CSS, SVG and a little
script; no network, no fonts from outside) that opens from disk.

Figures come from the same documents the markdown renders (compare_report and audit_report), through the
same helpers, so the two show the same numbers. The byte treemaps and layer bars need the image profiles
as well: the documents don't list files.
"""

from __future__ import annotations

import re
from collections import Counter

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from .. import __version__
from ..inspect.model import GROUP_SHORT, GROUPS, ImageProfile
from ..units import format_size
from . import compare_report, treemap
from .treemap import COLOURS, Node, tint

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
SEVERITY_COLOURS = {"CRITICAL": "#b2182b", "HIGH": "#e66101", "MEDIUM": "#f1b6da", "LOW": "#92c5de", "UNKNOWN": "#cccccc"}
CATEGORY_NAMES = {"custom": "custom-built", "third-party": "third-party", "official": "official / database",
                  "dangling": "dangling"}
BAR_WIDTH = 560

_env = Environment(loader=PackageLoader("buildopt.report", "templates"), autoescape=True, trim_blocks=True,
                   lstrip_blocks=True)
_env.filters["size"] = lambda value, signed=False: format_size(value or 0, signed=signed)
_env.filters["code"] = lambda text: Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


# --- compare and diff --------------------------------------------------------------------------------------
def render_compare(doc: dict, profiles: dict) -> str:
    """`doc`: compare_report.compare_document; `profiles`: {"original": ImageProfile | None, "optimized": ...}."""
    o, p = doc["variants"]["original"], doc["variants"]["optimized"]
    names = ("original", "optimized")
    sides = _sides([(name, doc["variants"][name].get("tag") or name, profiles.get(name)) for name in names])
    verdict = doc["verdict"]
    status = "pass" if verdict["passed"] else ("build failed" if verdict["exit_code"] == 3 else "over budget")
    context = {
        "kind": "compare",
        "title": f"buildopt compare: {doc['dockerfile']}",
        "heading": doc["dockerfile"],
        "status": status,
        "passed": verdict["passed"],
        "verdict_line": compare_report.verdict_line(doc),
        "names": names,
        "summary": compare_report.summary_rows(doc),
        "attribution": compare_report.changed_groups(doc),
        "group_bars": Markup(_group_bars([(name, (doc["variants"][name].get("groups") or {}),
                                           doc["variants"][name].get("wasted_bytes") or 0) for name in names])),
        "sides": sides,
        "removed": compare_report.largest_removed(doc),
        "added": compare_report.largest_packages(doc.get("diff"), "added", 15),
        "failures": verdict["failures"],
        "budgets": [(name, (doc["variants"][name].get("budget") or {}).get("checks") or []) for name in names],
        "vulns": _vulnerabilities(o, p),
        "smoke": [(name, doc["variants"][name].get("smoke")) for name in names],
        "changes": doc.get("changes") or [],
        "dropped": (doc.get("fallback") or {}).get("dropped") or [],  # compare's build-verified fallback
        "findings": doc.get("findings") or [],
        "build_errors": [(name, doc["variants"][name]) for name in names if doc["variants"][name].get("build_error")],
        "notes": compare_report._scan_notes(doc),
        "footer": f"buildopt {doc['buildopt_version']} · report schema {doc['schema']}",
    }
    return _env.get_template("compare.html.j2").render(**context)


def render_diff(diff, profile_a, profile_b) -> str:
    """`buildopt diff`: the before/after page without the verdict, scans and smoke tests."""
    data = diff.to_dict()
    a, b = data["a"], data["b"]
    names = ("A", "B")
    rows = [{"group": g["group"], "label": g["label"], "original": g["size_a"], "optimized": g["size_b"],
             "delta": g["delta"]} for g in data["groups"]]
    if a["wasted_bytes"] or b["wasted_bytes"]:
        rows.append({"group": "hidden", "label": "hidden copies (overwritten or deleted in a later layer)",
                     "original": a["wasted_bytes"], "optimized": b["wasted_bytes"],
                     "delta": b["wasted_bytes"] - a["wasted_bytes"]})
    summary = [
        ("size", format_size(a["size"]), format_size(b["size"]), _delta_text(data["total_size_delta"], a["size"])),
        ("visible bytes", format_size(a["visible_size"]), format_size(b["visible_size"]),
         format_size(data["visible_size_delta"], signed=True)),
        ("hidden copies", format_size(a["wasted_bytes"]), format_size(b["wasted_bytes"]),
         format_size(data["wasted_bytes_delta"], signed=True)),
        ("layers", str(a["layers"]), str(b["layers"]), f"{data['layers']['delta']:+d} ({data['layers']['shared']} shared)"),
        ("files", f"{a['files']:,}", f"{b['files']:,}", f"{b['files'] - a['files']:+,}"),
        ("user", a["user"] or "(root)", b["user"] or "(root)", ""),
    ]
    if a["torch"] or b["torch"]:
        summary.append(("torch", a["torch"] or "-", b["torch"] or "-", ""))
    context = {
        "kind": "diff",
        "title": f"buildopt diff: {a['ref']} → {b['ref']}",
        "heading": f"{a['ref']} → {b['ref']}",
        "names": names,
        "summary": summary,
        "attribution": sorted((row for row in rows if row["delta"]), key=lambda row: row["delta"]),
        "group_bars": Markup(_group_bars([("A", profile_a.groups, profile_a.wasted_bytes),
                                          ("B", profile_b.groups, profile_b.wasted_bytes)])),
        "sides": _sides([("A", a["ref"], profile_a), ("B", b["ref"], profile_b)]),
        "removed": compare_report.largest_removed({"diff": data}),
        "added": compare_report.largest_packages(data, "added", 15),
        "config_changes": data["config_changes"],
        "notes": data["notes"],
        "footer": f"buildopt {__version__} · diff schema {data['schema']}",
    }
    return _env.get_template("compare.html.j2").render(**context)


def _sides(variants: list[tuple[str, str, ImageProfile | None]]) -> list[dict]:
    """Per image: its treemap views and layer bars; layer bars share one scale so they compare."""
    largest = max((layer.size for _, _, profile in variants if profile for layer in profile.layers), default=0)
    sides = []
    for index, (name, ref, profile) in enumerate(variants):
        side: dict[str, object] = {"name": name, "ref": ref, "profile": profile, "views": [], "layers": "", "legend": []}
        if profile is not None:
            root = treemap.profile_tree(profile)
            root.label = name
            side["views"] = treemap.render_views(root, f"tm{index}", label=f"{name} ({ref})")
            side["legend"] = [(node.key, node.label, node.size, COLOURS[node.key]) for node in root.children]
            side["size"] = profile.size
            side["files"] = len(profile.files)
            side["layers"] = Markup(_layer_bars(profile, largest, f"lb{index}"))
        sides.append(side)
    return sides


def _delta_text(delta: int, base: int) -> str:
    return format_size(delta, signed=True) + (f" ({100.0 * delta / base:+.1f}%)" if base else "")


def _vulnerabilities(original: dict, optimized: dict) -> dict:
    """Counts by severity and the packages that carry them, per variant."""
    out: dict = {"scanned": False, "counts": [], "packages": []}
    by_package: dict[tuple[str, str], dict[str, Counter]] = {}
    for name, variant in (("original", original), ("optimized", optimized)):
        vulns = variant.get("vulnerabilities")
        if not vulns:
            out["counts"].append((name, None))
            continue
        out["scanned"] = True
        out["counts"].append((name, [(severity, vulns["counts"].get(severity, 0)) for severity in SEVERITIES]))
        for item in vulns["items"]:
            key = (item["package"], item["installed"] or "")
            by_package.setdefault(key, {"original": Counter(), "optimized": Counter()})[name][item["severity"]] += 1
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}

    def weight(entry):
        counters = entry[1]
        worst = min((rank.get(s, len(SEVERITIES)) for c in counters.values() for s in c), default=len(SEVERITIES))
        return (worst, -sum(sum(c.values()) for c in counters.values()), entry[0])

    for (package, version), counters in sorted(by_package.items(), key=weight)[:40]:
        out["packages"].append({"package": package, "version": version,
                                "original": [counters["original"].get(s, 0) for s in SEVERITIES],
                                "optimized": [counters["optimized"].get(s, 0) for s in SEVERITIES]})
    out["max"] = max((count for _, counts in out["counts"] if counts for _, count in counts), default=0)
    out["colours"] = SEVERITY_COLOURS
    out["severities"] = SEVERITIES
    return out


# --- SVG charts ------------------------------------------------------------------------------------------
_HATCH = ('<defs><pattern id="{id}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
          '<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" '
          'stroke-width="3"/></pattern></defs>')


def _group_bars(variants: list[tuple[str, dict, int]]) -> str:
    """One stacked bar per image, by group, on one scale: the before/after comparison at a glance."""
    total = max((sum(groups.values()) + wasted for _, groups, wasted in variants), default=0)
    if not total:
        return ""
    row, label_width, width = 34, 90, BAR_WIDTH + 120
    out = [f'<svg class="group-bars" viewBox="0 0 {label_width + width + 10} {row * len(variants) + 6}" '
           f'role="img" aria-label="size by group">', _HATCH.format(id="gb-hatch", colour=COLOURS["hidden"])]
    for index, (name, groups, wasted) in enumerate(variants):
        y = index * row + 4
        x = float(label_width)
        size = sum(groups.values()) + wasted
        out.append(f'<text x="0" y="{y + 15}" class="b">{escape(name)}</text>')
        parts = [(key, groups.get(key, 0)) for key in GROUPS] + [("hidden", wasted)]
        for key, value in parts:
            if not value:
                continue
            w = BAR_WIDTH * value / total
            fill = "url(#gb-hatch)" if key == "hidden" else COLOURS[key]
            label = GROUP_SHORT[key]
            out.append(f'<g><title>{escape(f"{name}: {label} {format_size(value)}")}</title>'
                       f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="22" fill="{fill}" data-key="{key}" '
                       f'data-bytes="{value}"/>')
            if w > 70:
                out.append(f'<text x="{x + 3:.2f}" y="{y + 15}">{escape(_fit(f"{label} {format_size(value)}", w))}</text>')
            out.append("</g>")
            x += w
        out.append(f'<text x="{x + 6:.2f}" y="{y + 15}" class="b">{format_size(size)}</text>')
    out.append("</svg>")
    return "".join(out)


def _layer_bars(profile, largest: int, prefix: str) -> str:
    """A bar per layer (one scale for both images); the part a later layer hides is hatched."""
    if not profile.layers:
        return ""
    row = 34
    width = BAR_WIDTH
    hatch_id = f"{prefix}-hatch"
    out = [f'<svg class="layer-bars" viewBox="0 0 {width + 2} {row * len(profile.layers) + 4}" role="img" '
           f'aria-label="layers of {escape(profile.ref)}">', _HATCH.format(id=hatch_id, colour="#c0392b")]
    for index, layer in enumerate(profile.layers):
        y = index * row + 2
        w = max(1.0, width * layer.size / largest) if largest else 1.0
        waste = width * layer.wasted / largest if largest else 0
        step = _short_step(layer.created_by)
        hidden = f", {format_size(layer.wasted)} hidden later" if layer.wasted else ""
        tip = f"layer {layer.index}: {format_size(layer.size)} in {layer.files:,} files{hidden}\n{layer.created_by or '(base)'}"
        out.append(f'<g class="layer" data-layer="{layer.index}" data-bytes="{layer.size}" data-wasted="{layer.wasted}">'
                   f'<title>{escape(tip)}</title>'
                   f'<text x="0" y="{y + 11}">{escape(_fit(f"#{layer.index} {format_size(layer.size)}{hidden} · {step}", width))}</text>'
                   f'<rect x="0" y="{y + 15}" width="{w:.2f}" height="13" fill="#7f9cc0"/>')
        if waste >= 0.5:
            out.append(f'<rect x="{max(0.0, w - waste):.2f}" y="{y + 15}" width="{waste:.2f}" height="13" '
                       f'fill="url(#{hatch_id})" class="waste"/>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _short_step(created_by: str) -> str:
    text = (created_by or "(base layer)").replace("/bin/sh -c ", "").removesuffix(" # buildkit").strip()
    return " ".join(text.split())


def _fit(text: str, width: float) -> str:
    room = int(width / treemap.CHAR_WIDTH) - 1
    return text if len(text) <= room else text[: max(0, room - 1)] + "…"


# --- audit ------------------------------------------------------------------------------------------------
def render_audit(doc: dict) -> str:
    """`doc`: audit_report.audit_document; its action plan is the one the markdown renders."""
    s = doc["summary"]
    root = _images_tree(doc)
    views = treemap.render_views(root, "au", width=960, height=400, label="images by category") if root.children else []
    legend = [(node.key, CATEGORY_NAMES.get(node.key, node.key), node.size, COLOURS.get(node.key, "#ccc"))
              for node in root.children]
    largest = max((image["size"] for image in doc["images"]), default=0)
    images = [{**image, "bar": Markup(_image_bar(image, largest))} for image in
              sorted(doc["images"], key=lambda image: -image["size"])]
    engine = doc["engine"]
    context = {
        "title": f"buildopt audit: {engine['name'] or engine['endpoint']}",
        "doc": doc,
        "s": s,
        "engine": engine,
        "views": views,
        "legend": legend,
        "images": images,
        "categories": CATEGORY_NAMES,
        "plan": doc["action_plan"],
        "containers": doc["containers"],
        "footer": f"buildopt {doc['buildopt_version']} · report schema {doc['schema']}",
    }
    return _env.get_template("audit.html.j2").render(**context)


def _images_tree(doc: dict) -> Node:
    """Category -> image, sized as `docker images` shows them; small images summed; dangling apart."""
    categories: dict[str, list[Node]] = {}
    for image in doc["images"]:
        tip = (f"{image['display']} ({CATEGORY_NAMES[image['category']]}, {image['priority']})"
               + (f"; rebuild gains {format_size(image['savings']['gain'])}" if image["savings"]["gain"] else ""))
        categories.setdefault(image["category"], []).append(Node(image["display"], image["size"], image["category"],
                                                                 title=tip))
    small: dict[str, list[dict]] = {}
    for image in doc["small_images"]:
        small.setdefault(image["category"], []).append(image)
    for category, items in small.items():
        size = sum(item["size"] for item in items)
        categories.setdefault(category, []).append(Node(f"{len(items)} small images", size, category, files=len(items),
                                                        title=f"{len(items)} images below --min-size"))
    if doc["dangling"]:
        categories["dangling"] = [Node(f"<none> {item['short_id']}", item["size"], "dangling",
                                       title=f"dangling {item['short_id']}: {format_size(item['unique_size'])} "
                                             f"reclaimable; last step {item['last_step'] or '-'}")
                                  for item in doc["dangling"]]
    root = Node("images", 0, "image")
    for key in ("custom", "third-party", "official", "dangling"):
        members = categories.get(key)
        if not members:
            continue
        size = sum(node.size for node in members)
        threshold = max(1, int(size * 0.002))
        root.children.append(Node(CATEGORY_NAMES[key], size, key, title=CATEGORY_NAMES[key], files=len(members),
                                  children=treemap.aggregate(members, threshold, 60, key)))
    root.size = sum(node.size for node in root.children)
    treemap.number(root)
    return root


def _image_bar(image: dict, largest: int) -> str:
    """The image's size on one scale for all images; the part a rebuild removes is hatched."""
    if not largest:
        return ""
    width = 240
    w = max(1.0, width * image["size"] / largest)
    gain = width * image["savings"]["gain"] / largest
    colour = COLOURS.get(image["category"], "#ccc")
    hatch = f"ib-{image['short_id']}"
    out = [f'<svg class="image-bar" viewBox="0 0 {width} 14" width="{width}" height="14" role="img" '
           f'aria-label="{escape(format_size(image["size"]))}">']
    out.append(_HATCH.format(id=hatch, colour=tint(colour, 0.0)))
    out.append(f'<rect x="0" y="1" width="{w:.2f}" height="12" fill="{colour}"/>')
    if gain >= 0.5:
        out.append(f'<rect x="{w - gain:.2f}" y="1" width="{gain:.2f}" height="12" fill="url(#{hatch})" class="gain"/>')
    out.append("</svg>")
    return "".join(out)
