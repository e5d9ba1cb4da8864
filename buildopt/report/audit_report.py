"""`buildopt audit` reports: one JSON document (schema buildopt.audit/v1), and the table and markdown
rendered from it, so the formats can't disagree and a saved JSON renders again later.

The markdown follows the hand-written audits in ../shared/seeds: summary metrics and the overall
security score, immediate priorities, top images, categories, the critical (> 5 GB) / medium
(500 MB - 5 GB) / optimal (< 500 MB) groups with each image's state, problems, recommendations and
potential gain, third-party verdicts with upstream drafts, the recap table, the container security
audit, dangling images with the command that reclaims them, and the action plan by priority.
"""

from __future__ import annotations

import json

from tabulate import tabulate

from .. import __version__
from ..audit import plan
from ..audit.categories import LABELS
from ..units import format_size
from .markdown import escape

SCHEMA = "buildopt.audit/v1"
GROUP_TITLES = {
    "critical": "🔴 Critical images (> 5 GB)",
    "medium": "🟡 Medium images (500 MB - 5 GB)",
    "optimal": "🟢 Optimal images (< 500 MB)",
}
CATEGORY_LABELS = LABELS  # custom-built, third-party, official/database
VERDICT_LABELS = {"rebuild": "rebuild with the fixes", "ask-upstream": "ask upstream (draft below)",
                  "accept": "accept the size"}
SECURITY_CONTAINER_SLUGS = ("privileged", "docker-socket", "extra-capabilities", "port-all-interfaces", "host-network")


# --- the document -------------------------------------------------------------------------------------
def audit_document(report) -> dict:
    engine = report.engine
    containers = [_container_doc(c) for c in report.containers]
    images = [_image_doc(audit, containers) for audit in report.images]
    inventory = report.inventory
    detailed_size = sum(audit.record.size for audit in report.images)
    gain = report.total_gain
    dangling_size = sum(d.record.size for d in report.dangling)
    doc = {
        "schema": SCHEMA,
        "buildopt_version": __version__,
        "generated": report.generated,
        "duration_s": round(report.duration_s, 2),
        "deep_seconds": round(report.deep_seconds, 2),
        "engine": {
            "endpoint": engine.host, "context": engine.context, "name": engine.name, "version": engine.version,
            "os": engine.os, "local": engine.local, "driver": engine.driver, "runtimes": list(engine.runtimes),
            "gpu": {"present": engine.gpu.present, "source": engine.gpu.source}, "docker_cli": engine.docker_cli(),
        },
        "options": {"min_size": report.options.min_size, "fail_over": report.options.fail_over,
                    "deep": report.options.deep},
        "summary": {
            "images": len(inventory.images),
            "images_detailed": len(report.images),
            "small_images": {"count": len(report.small_images), "size": sum(r.size for r in report.small_images)},
            "total_size": inventory.total_size,
            "tagged_size": sum(r.size for r in inventory.images),
            "disk_used": inventory.layers_size,
            "dangling": {"count": len(report.dangling), "size": dangling_size, "reclaimable": inventory.dangling_unique},
            "by_category": _by_category(report),
            "by_group": {group: {"count": sum(1 for i in images if i["group"] == group),
                                 "size": sum(i["size"] for i in images if i["group"] == group)}
                         for group in ("critical", "medium", "optimal")},
            "applications": _applications(containers),
            "critical_problems": sum(1 for i in images for f in i["findings"]
                                     if not f["security"] and f["severity"] in ("high", "critical")),
            "security_problems": sum(1 for i in images for f in i["findings"] if f["security"])
            + sum(1 for c in containers for p in c["problems"] if p["slug"] in SECURITY_CONTAINER_SLUGS),
            "potential_gain": gain,
            "potential_gain_percent": round(100 * gain / detailed_size, 1) if detailed_size else 0.0,
            "upstream_gain": sum(i["savings"]["upstream_gain"] for i in images if i["category"] == "third-party"),
            "security_score": report.overall_score,
            "projected_security_score": report.projected_overall_score,
            "non_root_images": sum(1 for i in images if not _has(i, "root-user")),
            "custom_over_5gb": sum(1 for i in images if i["category"] == "custom" and i["size"] > 5 * 1000**3),
            "containers": _container_summary(containers),
        },
        "images": images,
        "small_images": [{"id": r.id, "name": r.name, "tags": list(r.repo_tags), "size": r.size,
                          "category": r.category} for r in report.small_images],
        "dangling": [{"id": d.record.id, "short_id": d.record.short_id, "size": d.record.size,
                      "unique_size": d.record.unique_size, "created": d.record.created, "last_step": d.last_step}
                     for d in report.dangling],
        "dangling_command": plan.prune_command(report),
        "backups": [{"tag": b.tag, "image_id": b.image_id, "created": b.created.isoformat().replace("+00:00", "Z"),
                     "size": b.size, "frees": b.frees, "held_by": list(b.held_by), "other_backups": list(b.other_backups),
                     "prune_command": f"{engine.docker_cli()} image rm {' '.join([b.tag, *b.other_backups])}"}
                    for b in report.backups],
        "containers": containers,
        # Images another process removed between the listing and their inspection: skipped, not counted.
        "vanished": [{"id": r.id, "name": r.display} for r in getattr(report, "vanished", [])],
        "fail_over": None if report.options.fail_over is None else {
            "limit": report.options.fail_over,
            "failed": [{"name": a.record.display, "size": a.record.size} for a in report.over_budget]
            + [{"name": r.display, "size": r.size} for r in report.over_budget_small],
        },
        "prune": None if report.prune is None else {
            "removed": list(report.prune.removed), "freed": report.prune.freed,
            "kept": [{"id": image_id, "reason": reason} for image_id, reason in report.prune.kept],
        },
        "exit_code": 1 if report.failed else 0,
    }
    doc["action_plan"] = [step.to_dict() for step in plan.action_plan(report)]
    return doc


def _image_doc(audit, containers: list[dict]) -> dict:
    record = audit.record
    own = [c for c in containers if c["image_id"] == record.id]
    return {
        "id": record.id, "short_id": record.short_id, "name": record.name, "display": record.display,
        "tags": list(record.repo_tags), "repo_digests": list(record.repo_digests), "created": record.created,
        "size": record.size, "shared_size": record.shared_size, "unique_size": record.unique_size,
        "containers": audit.containers,
        "containers_with_limits": sum(1 for c in own if c["memory_limit"] > 0), "category": audit.category, "kind": audit.kind, "group": audit.group,
        "depth": audit.depth, "reader": audit.reader, "deep_error": audit.deep_error,
        "user": audit.user or "root", "healthcheck": audit.healthcheck, "python": audit.python,
        "os_release": audit.os_release,
        "findings": [_finding_doc(f) for f in audit.findings],
        "savings": {
            "gain": audit.savings.gain, "upstream_gain": audit.savings.upstream_gain,
            "optimized_size": audit.savings.optimized_size, "percent": round(audit.savings.percent, 1),
            "parts": [{"slug": slug, "bytes": size} for slug, size in audit.savings.parts],
            "basis": audit.savings.basis,
        },
        "verdict": audit.verdict, "priority": audit.priority,
        "score": _score_doc(audit.score), "projected_score": _score_doc(audit.projected_score),
        "top_layers": [{"layer": layer.index, "size": layer.size, "created_by": layer.created_by}
                       for layer in audit.top_layers],
        "upstream": None if audit.upstream is None else {
            "title": audit.upstream.title, "body": audit.upstream.body, "bytes": audit.upstream.bytes},
    }


def _finding_doc(finding) -> dict:
    return {
        "slug": finding.slug, "severity": str(finding.severity), "tag": finding.tag, "title": finding.title,
        "detail": finding.detail, "fix": finding.fix, "bytes": finding.bytes, "basis": finding.basis,
        "security": finding.security, "upstream": finding.upstream, "layer": finding.layer,
        "created_by": finding.created_by, "evidence": list(finding.evidence),
        "parts": [{"layer": p.layer, "created_by": p.created_by, "holds": p.holds, "bytes": p.bytes}
                  for p in finding.parts],
    }


def _container_doc(audit) -> dict:
    c = audit.record
    return {
        "id": c.id, "name": c.name, "image": c.image, "image_id": c.image_id, "state": c.state, "user": c.user or "root",
        "healthcheck": c.healthcheck, "health_status": c.health_status, "memory_limit": c.memory_limit,
        "cpu_limit": c.cpu_limit, "cpuset": c.cpuset, "restart_policy": c.restart_policy, "ports": list(c.ports),
        "ports_all_interfaces": list(c.ports_all_interfaces), "network_mode": c.network_mode,
        "mounts": [{"type": m.type, "source": m.source, "destination": m.destination, "writable": m.writable,
                    "source_code": m.source_code, "docker_socket": m.docker_socket} for m in c.mounts],
        "readonly_rootfs": c.readonly_rootfs, "privileged": c.privileged, "cap_add": list(c.cap_add),
        "compose_project": c.compose_project, "compose_service": c.compose_service,
        "problems": [{"slug": slug, "text": text} for slug, text in audit.problems],
        "score": _score_doc(audit.score),
    }


def _score_doc(score) -> dict:
    return {"score": score.score, "penalties": [{"reason": p.reason, "points": p.points} for p in score.penalties],
            "not_measured": list(score.not_measured)}


def _by_category(report) -> dict:
    out = {}
    for category in ("custom", "third-party", "official"):
        members = [a for a in report.images if a.category == category]
        small = [r for r in report.small_images if r.category == category]
        out[category] = {
            "count": len(members) + len(small),
            "size": sum(a.record.size for a in members) + sum(r.size for r in small),
            "optimizable": sum(1 for a in members if a.savings.gain >= 100 * 1000**2
                               or a.verdict == "ask-upstream"),
            "gain": sum(a.savings.gain for a in members),
            "upstream_gain": sum(a.savings.upstream_gain for a in members) if category == "third-party" else 0,
        }
    return out


def _applications(containers: list[dict]) -> int:
    """Compose projects, plus containers outside any project: what the first audit called applications."""
    return len({c["compose_project"] for c in containers if c["compose_project"]}) + \
        sum(1 for c in containers if not c["compose_project"])


def _container_summary(containers: list[dict]) -> dict:
    def count(predicate) -> int:
        return sum(1 for c in containers if predicate(c))

    return {
        "total": len(containers),
        "running": count(lambda c: c["state"] == "running"),
        "healthcheck": count(lambda c: c["healthcheck"] != "none"),
        "unhealthy": count(lambda c: c["health_status"] == "unhealthy"),
        "resource_limits": count(lambda c: c["memory_limit"] > 0),
        "cpu_limits": count(lambda c: c["cpu_limit"] is not None or bool(c["cpuset"])),
        "non_root": count(lambda c: c["user"] not in ("root", "0") and not c["user"].startswith(("root:", "0:"))),
        "restart_policy": count(lambda c: c["restart_policy"] not in ("no", "")),
        "ports_all_interfaces": count(lambda c: bool(c["ports_all_interfaces"])),
        "source_mounts": count(lambda c: any(m["source_code"] for m in c["mounts"])),
        "read_only_rootfs": count(lambda c: c["readonly_rootfs"]),
        "privileged": count(lambda c: c["privileged"]),
        "extra_capabilities": count(lambda c: bool(c["cap_add"])),
        "docker_socket": count(lambda c: any(m["docker_socket"] for m in c["mounts"])),
    }


# --- renderers ------------------------------------------------------------------------------------------
def render_json(doc: dict) -> str:
    return json.dumps(doc, indent=2) + "\n"


def render_table(doc: dict) -> str:
    s = doc["summary"]
    lines = [_title(doc), ""]
    metrics = [
        ("images", f"{s['images']} ({format_size(s['tagged_size'])}), {s['dangling']['count']} dangling"),
        ("disk used by layers", format_size(s["disk_used"])),
        ("potential gain", f"~{format_size(s['potential_gain'])} ({s['potential_gain_percent']}%)"),
        ("security score", _score_change(s["security_score"], s["projected_security_score"])),
        ("critical / security problems", f"{s['critical_problems']} / {s['security_problems']}"),
        ("containers", _containers_line(s["containers"])),
    ]
    lines.append(tabulate(metrics, tablefmt="plain"))
    lines.append("")
    rows = [(i["display"], CATEGORY_LABELS[i["category"]], format_size(i["size"]), _optimized(i), _gain(i),
             i["priority"], _score_change(i["score"]["score"], i["projected_score"]["score"]), _causes(i))
            for i in doc["images"]]
    if rows:
        lines.append(tabulate(rows, headers=("image", "category", "size", "optimized", "gain", "prio", "score", "causes"),
                              tablefmt="simple"))
    if doc["small_images"]:
        lines.append(f"\n{len(doc['small_images'])} images below --min-size "
                     f"({format_size(s['small_images']['size'])}) not detailed.")
    if doc["dangling"]:
        lines.append(f"\nDangling images: {len(doc['dangling'])}, {format_size(s['dangling']['size'])} "
                     f"({format_size(s['dangling']['reclaimable'])} reclaimable): `{doc['dangling_command']}`")
    lines += _backup_lines(doc)
    if doc["containers"]:
        rows = [(c["name"], c["state"], c["user"], c["healthcheck"] + (f" ({c['health_status']})" if c["health_status"] else ""),
                 format_size(c["memory_limit"]) if c["memory_limit"] else "-",
                 f"{c['cpu_limit']:g}" if c["cpu_limit"] else "-", c["restart_policy"],
                 ", ".join(p["slug"] for p in c["problems"]) or "-")
                for c in doc["containers"]]
        lines.append("")
        lines.append(tabulate(rows, headers=("container", "state", "user", "healthcheck", "memory", "cpus", "restart",
                                             "problems"), tablefmt="simple"))
    lines += _tail_lines(doc)
    return "\n".join(lines) + "\n"


def render_markdown(doc: dict) -> str:
    s = doc["summary"]
    engine = doc["engine"]
    out: list[str] = [
        f"# 🔍 Docker audit - {_md(engine['name'] or engine['endpoint'])}",
        f"**Date:** {doc['generated'][:10]}  ",
        f"**Engine:** `{_md(engine['endpoint'])}`" + (f" (context `{engine['context']}`)" if engine["context"] else "")
        + f", Docker {engine['version']}, {_md(engine['os'])}  ",
        f"**GPU:** {_gpu_text(engine['gpu'])}  ",
        f"**Generated by:** buildopt {doc['buildopt_version']} in {doc['duration_s']} s",
        "",
        "---",
        "",
        "## 📊 Executive summary",
        "",
        "### Global metrics",
        f"- **Applications (compose projects and standalone containers):** {s['applications']}",
        f"- **Images:** {s['images']} ({s['dangling']['count']} dangling besides)"
        + (f"; {len(doc['vanished'])} removed by another process while the audit ran, skipped" if doc.get("vanished") else ""),
        f"- **Total space:** {format_size(s['tagged_size'])} (sum of image sizes; the layers use "
        f"{format_size(s['disk_used'])} on disk, shared layers counted once)",
        "- **By category:** " + ", ".join(f"{CATEGORY_LABELS[k]} {v['count']} ({format_size(v['size'])})"
                                            for k, v in s["by_category"].items()),
        f"- **Critical problems:** {s['critical_problems']}",
        f"- **Security problems:** {s['security_problems']}",
        f"- **Estimated potential gain:** ~{format_size(s['potential_gain'])} ({s['potential_gain_percent']:g}%)"
        + (f", plus ~{format_size(s['upstream_gain'])} if third-party maintainers fix their images"
           if s["upstream_gain"] else ""),
        f"- **Custom images above 5 GB (the KPI's alert):** {s['custom_over_5gb']}",
        "",
        f"### Overall security score: **{_score_text(s['security_score'])}** {_score_icon(s['security_score'])}"
        + (f" → {s['projected_security_score']}/100 after the fixes" if s["projected_security_score"] is not None else ""),
        "",
    ]
    out += _immediate_priorities(doc)
    out += _top_images(doc)
    out += _categories_table(doc)
    for group in ("critical", "medium", "optimal"):
        out += _group_section(doc, group)
    out += _third_party_section(doc)
    out += _recap_table(doc)
    out += _security_section(doc)
    out += _dangling_section(doc)
    out += _backups_section(doc)
    out += _plan_section(doc)
    out += _method_section(doc)
    out += [f"**Report generated:** {doc['generated']}  ", f"**By:** buildopt {doc['buildopt_version']} "
            f"(`buildopt audit`), schema {SCHEMA}", ""]
    return "\n".join(out)


def _immediate_priorities(doc: dict) -> list[str]:
    p0 = [i for i in doc["images"] if i["priority"] == "P0"]
    lines = ["### Immediate priorities (P0)"]
    if not p0 and not doc["dangling"]:
        return [*lines, "No P0 item: no custom image has a gain of 5 GB or half of its size.", ""]
    for n, image in enumerate(p0, 1):
        lines.append(f"{n}. ❌ **{_md(image['display'])}** ({format_size(image['size'])}): {_causes(image)} → "
                     f"-{format_size(image['savings']['gain'])}")
    if doc["dangling"]:
        lines.append(f"{len(p0) + 1}. ⚠️ **{plan.count(len(doc['dangling']), 'dangling image')}** → "
                     f"-{format_size(doc['summary']['dangling']['reclaimable'])} (`{doc['dangling_command']}`)")
    return [*lines, "", "---", ""]


def _top_images(doc: dict) -> list[str]:
    images = sorted(doc["images"], key=lambda i: -i["size"])[:10]
    if not images:
        return []
    lines = ["## Top images by size", "",
             "| Rank | Image | Size | Type | Possible optimization | Priority |",
             "|---|---|---|---|---|---|"]
    for rank, image in enumerate(images, 1):
        kind = {"ml": "ML", "database": "DB", "infrastructure": "Infra", "base": "Base", "app": "App"}[image["kind"]]
        lines.append(f"| {rank} | {_md(image['display'])} | {format_size(image['size'])} | {kind} "
                     f"({CATEGORY_LABELS[image['category']]}) | {_possible(image)} | {image['priority']} |")
    top = sum(i["size"] for i in images)
    total = doc["summary"]["tagged_size"]
    if total:
        lines.append(f"\n**Total top {len(images)}:** {format_size(top)} ({round(100 * top / total)}% of the image space)")
    return [*lines, ""]


def _categories_table(doc: dict) -> list[str]:
    lines = ["### Images by category", "", "| Category | Count | Total size | Optimizable |", "|---|---|---|---|"]
    for key, value in doc["summary"]["by_category"].items():
        if not value["count"]:
            continue
        if key == "custom":
            optimizable = f"{value['optimizable']} images (~{format_size(value['gain'])} gain)"
        elif key == "third-party":
            optimizable = (f"upstream only: {value['optimizable']} worth an issue (~{format_size(value['upstream_gain'])})"
                           if value["optimizable"] else "no (accept the size)")
        else:
            optimizable = "no (official images)"
        lines.append(f"| {CATEGORY_LABELS[key]} | {value['count']} | {format_size(value['size'])} | {optimizable} |")
    return [*lines, "", "---", ""]


def _group_section(doc: dict, group: str) -> list[str]:
    images = [i for i in doc["images"] if i["group"] == group]
    if group == "optimal":
        if not images:
            return []
        lines = [f"## {GROUP_TITLES[group]}", "", "| Image | Size | State | Minor recommendations |", "|---|---|---|---|"]
        for image in sorted(images, key=lambda i: -i["size"]):
            minor = [f["title"] for f in image["findings"]]
            state = "✅ well optimized" if not image["savings"]["gain"] else f"-{format_size(image['savings']['gain'])} possible"
            lines.append(f"| {_md(image['display'])} | {format_size(image['size'])} | {state} | "
                         f"{_md('; '.join(minor)) or '-'} |")
        return [*lines, "", "---", ""]
    lines = [f"## {GROUP_TITLES[group]}", ""]
    if not images:
        return [*lines, "None.", "", "---", ""]
    for n, image in enumerate(sorted(images, key=lambda i: (i["priority"], -i["size"])), 1):
        lines += _image_section(n, image)
    return lines


def _image_section(n: int, image: dict) -> list[str]:
    tags = image["tags"]
    title = f"### {n}. {_md(image['name'].upper())} - {format_size(image['size'])}"
    if len(tags) > 1:
        title += f" ({len(tags)} tags, same image)"
    containers = image["containers"]
    lines = [
        title, "",
        "**📊 Current state:**",
        f"- Tags: {_md(', '.join(tags[:5]) + (f' and {len(tags) - 5} more' if len(tags) > 5 else '')) or '<none>'}",
        f"- Category: {CATEGORY_LABELS[image['category']]}, {image['kind']}",
        f"- Size: **{format_size(image['size'])}** ({format_size(image['unique_size'])} not shared with other images)",
        f"- Created: {image['created'][:10]}",
    ]
    if image["os_release"] or image["python"]:
        lines.append(f"- Base: {_md(image['os_release'] or 'unknown OS')}"
                     + (f", Python {image['python']}" if image["python"] else ""))
    lines += [
        f"- Non-root user: {'✅ ' + _md(image['user']) if not _has(image, 'root-user') else '❌'}",
        f"- Health check: {_mark(image['healthcheck'])}",
        f"- Build tools left in: {'❌ yes' if _has(image, 'build-toolchain') else '✅ none found'}",
        f"- Resource limits: {_limits_mark(image)}",
        f"- Containers: {_md(', '.join(containers)) if containers else 'none'}",
        f"- Inspected: {_depth_text(image)}",
    ]
    if image["top_layers"]:
        lines += ["", "**Main layers:**"]
        for layer in image["top_layers"]:
            where = f"layer {layer['layer']}" if layer["layer"] is not None else "layer"
            lines.append(f"- {where}: **{format_size(layer['size'])}** `{_clip(layer['created_by'] or '(base)', 100)}`")
    lines += ["", "**🔍 Problems found:**", ""]
    if not image["findings"]:
        lines.append("None.")
    for k, finding in enumerate(image["findings"], 1):
        size = f" ({format_size(finding['bytes'])})" if finding["bytes"] else ""
        lines.append(f"{k}. **[{finding['tag']}] {_md(finding['title'])}**{size} - Impact: {finding['severity'].upper()}")
        lines.append(f"   - {_md(finding['detail'])}")
        for item in finding["evidence"][:4]:
            lines.append(f"   - `{_clip(item, 110)}`")
    lines += ["", "**💡 Recommendations:**", ""]
    if image["category"] == "custom":
        fixes = plan.fix_lines((f["fix"], f["bytes"]) for f in image["findings"])
        lines += [f"{k}. {line}" for k, line in enumerate(fixes, 1)] or ["Nothing to change."]
    else:
        lines.append(f"Verdict: **{VERDICT_LABELS[image['verdict']]}**. "
                     + ("Image maintained by a third party: no direct control; rebuild only with a fork."
                        if image["category"] == "third-party" else "Official image: leave it as it is."))
    savings = image["savings"]
    lines += ["", "**📈 Potential gain:**"]
    if image["category"] == "custom":
        lines.append(f"- Size: **{format_size(image['size'])} → {format_size(savings['optimized_size'])}** "
                     f"(-{format_size(savings['gain'])}, -{savings['percent']:g}%){_basis_note(savings['basis'])}")
    elif savings["upstream_gain"]:
        lines.append(f"- If upstream fixes it: {format_size(image['size'])} → "
                     f"{format_size(image['size'] - savings['upstream_gain'])} (-{format_size(savings['upstream_gain'])})")
    else:
        lines.append("- Size: none to expect (accept the size)")
    lines.append(f"- Security: {_score_change(image['score']['score'], image['projected_score']['score'])}"
                 + _penalties_note(image["score"]))
    lines += [f"- **PRIORITY: {image['priority']}**", "", "---", ""]
    return lines


def _third_party_section(doc: dict) -> list[str]:
    images = [i for i in doc["images"] if i["category"] in ("third-party", "official")]
    if not images:
        return []
    lines = ["## 🎯 Third-party and official images - verdicts", "",
             "| Image | Size | Category | Verdict | Why |", "|---|---|---|---|---|"]
    for image in sorted(images, key=lambda i: -i["size"]):
        if image["verdict"] == "ask-upstream":
            why = f"{format_size(image['savings']['upstream_gain'])} of {_upstream_causes(image)} in the runtime image"
        elif image["category"] == "official":
            why = "official image, already maintained for size"
        else:
            why = "no measured waste worth an issue" if not image["savings"]["upstream_gain"] else \
                f"only {format_size(image['savings']['upstream_gain'])} of mechanical waste"
        lines.append(f"| {_md(image['display'])} | {format_size(image['size'])} | {CATEGORY_LABELS[image['category']]} | "
                     f"{VERDICT_LABELS[image['verdict']]} | {_md(why)} |")
    drafts = [i for i in images if i["upstream"]]
    for image in drafts:
        lines += ["", f"### Draft upstream issue: {_md(image['display'])}", "",
                  f"**Title:** {image['upstream']['title']}", "", "````markdown", image["upstream"]["body"], "````"]
    return [*lines, "", "---", ""]


def _recap_table(doc: dict) -> list[str]:
    lines = ["## 📊 Recap table", "",
             "| Image | Current size | Optimized size | Gain | Priority | Security score |",
             "|---|---|---|---|---|---|"]
    for image in doc["images"]:
        lines.append(f"| **{_md(image['display'])}** | {format_size(image['size'])} | {_optimized(image)} | "
                     f"{_gain(image)} | {image['priority']} | "
                     f"{_score_change(image['score']['score'], image['projected_score']['score'])} |")
    s = doc["summary"]
    total = sum(i["size"] for i in doc["images"])
    lines.append(f"| **TOTAL** | **{format_size(total)}** | **{format_size(total - s['potential_gain'])}** | "
                 f"**-{format_size(s['potential_gain'])} (-{s['potential_gain_percent']:g}%)** | - | "
                 f"**{_score_change(s['security_score'], s['projected_security_score'])}** |")
    if doc["small_images"]:
        lines.append(f"\n{len(doc['small_images'])} images below --min-size ({format_size(s['small_images']['size'])}) "
                     "are counted in the totals above but not detailed.")
    return [*lines, "", "---", ""]


def _security_section(doc: dict) -> list[str]:
    c = doc["summary"]["containers"]
    images = doc["images"]
    root = [i["display"] for i in images if _has(i, "root-user")]
    lines = ["## 🔒 Global security audit", "", "### ❌ Problems (all images and containers)", ""]
    problems = []
    if root:
        problems.append(f"**Images running as root:** {len(root)}/{len(images)}")
    no_hc = [i for i in images if i["healthcheck"] == "none"]
    if no_hc:
        problems.append(f"**Images without a healthcheck:** {len(no_hc)}/{len(images)}")
    eol = [i["display"] for i in images if _has(i, "eol-python")]
    if eol:
        problems.append(f"**End-of-life Python:** {_md(plan.names(eol))}")
    if c["total"]:
        if c["ports_all_interfaces"]:
            problems.append(f"**Ports published on all interfaces:** {c['ports_all_interfaces']}/{c['total']} containers")
        if c["source_mounts"]:
            problems.append(f"**Source code bind-mounted (dev mode):** {c['source_mounts']}/{c['total']} containers")
        if c["privileged"]:
            problems.append(f"**Privileged containers:** {c['privileged']}/{c['total']}")
        if c["extra_capabilities"]:
            problems.append(f"**Added capabilities:** {c['extra_capabilities']}/{c['total']}")
        if c["docker_socket"]:
            problems.append(f"**Docker socket mounted:** {c['docker_socket']}/{c['total']}")
        if c["unhealthy"]:
            problems.append(f"**Unhealthy containers:** {c['unhealthy']}")
    problems.append("**Vulnerabilities and secrets:** not measured by the audit (scan with trivy)")
    lines += [f"{n}. {text}" for n, text in enumerate(problems, 1)]
    if c["total"]:
        lines += ["", "### Container checks", "",
                  f"- Health checks configured: {c['healthcheck']}/{c['total']}",
                  f"- Resource limits (memory): {c['resource_limits']}/{c['total']} (CPU: {c['cpu_limits']}/{c['total']})",
                  f"- Restart policy set: {c['restart_policy']}/{c['total']}",
                  f"- Non-root user: {c['non_root']}/{c['total']}",
                  f"- Read-only root filesystem: {c['read_only_rootfs']}/{c['total']}",
                  f"- Running: {c['running']}/{c['total']}",
                  "",
                  "| Container | Image | State | User | Health check | Memory | CPUs | Restart | Ports on all interfaces | Mounts | Problems |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for container in doc["containers"]:
            health = container["healthcheck"] + (f" ({container['health_status']})" if container["health_status"] else "")
            mounts = "<br>".join(_mount_text(m) for m in container["mounts"]) or "-"
            memory = format_size(container["memory_limit"]) if container["memory_limit"] else "❌"
            cpus = f"{container['cpu_limit']:g}" if container["cpu_limit"] else (container["cpuset"] or "❌")
            container_problems = "; ".join(p["text"] for p in container["problems"] if p["slug"] != "no-cpu-limit")
            lines.append(
                f"| {_md(container['name'])} | {_md(container['image'])} | {container['state']} | "
                f"{_md(container['user'])} | {health} | {memory} | {cpus} | {container['restart_policy']} | "
                f"{_md(', '.join(container['ports_all_interfaces'])) or '-'} | {mounts} | {_md(container_problems) or '-'} |")
    else:
        lines += ["", "No containers on this engine."]
    return [*lines, "", "---", ""]


def _dangling_section(doc: dict) -> list[str]:
    lines = ["## 🚨 Dangling images to remove", ""]
    if not doc["dangling"]:
        return [*lines, "None (`docker images -f dangling=true` is empty).", "", "---", ""]
    s = doc["summary"]["dangling"]
    lines += [f"**{plan.count(len(doc['dangling']), 'image')} `<none>:<none>`** found:", "",
              "| Image ID | Size | Created | Last build step |", "|---|---|---|---|"]
    for image in doc["dangling"]:
        lines.append(f"| {image['short_id']} | {format_size(image['size'])} | {image['created'][:10]} | "
                     f"`{_clip(image['last_step'] or '-', 80)}` |")
    lines += ["", f"**Total reclaimable:** ~{format_size(s['reclaimable'])} (their layers no other image shares; "
              f"{format_size(s['size'])} in all)", "", "**Command:**", "```bash", doc["dangling_command"], "```",
              "(or `buildopt audit --prune-dangling --yes`, which removes exactly these images)"]
    if doc["prune"]:
        prune = doc["prune"]
        lines += ["", f"**Pruned now:** {len(prune['removed'])} removed, {format_size(prune['freed'])} freed"
                  + (f"; {len(prune['kept'])} kept ({'; '.join(k['reason'] for k in prune['kept'][:3])})"
                     if prune["kept"] else "")]
    return [*lines, "", "---", ""]


def _backup_lines(doc: dict) -> list[str]:
    """The table's lines for `buildopt promote` backup tags (none: nothing)."""
    backups = doc.get("backups") or []  # reports saved before promote existed have none
    if not backups:
        return []
    rows = [(b["tag"], b["image_id"].split(":")[-1][:12], b["created"], format_size(b["size"]), _backup_frees(b))
            for b in backups]
    return ["", f"Backup tags from buildopt promote: {len(rows)} (prune one: `docker image rm TAG`)",
            tabulate(rows, headers=("backup tag", "image", "created", "size", "pruning frees"), tablefmt="simple")]


def _backup_frees(backup: dict) -> str:
    if backup["held_by"]:
        return "0 B (held by " + ", ".join(backup["held_by"][:2]) + ")"
    with_others = f" (with {len(backup['other_backups'])} other backup tag(s))" if backup["other_backups"] else ""
    return format_size(backup["frees"]) + with_others


def _backups_section(doc: dict) -> list[str]:
    backups = doc.get("backups") or []
    if not backups:
        return []
    lines = ["## 🔁 Backup tags (buildopt promote)", "",
             "Images a `buildopt promote` replaced, kept for `buildopt promote SERVICE --rollback`. Pruning one frees "
             "the old image's unshared bytes once nothing else holds it.", "",
             "| Backup tag | Image ID | Created | Size | Pruning frees | Command |", "|---|---|---|---|---|---|"]
    for b in backups:
        frees = _md(_backup_frees(b))
        lines.append(f"| {_md(b['tag'])} | {b['image_id'].split(':')[-1][:12]} | {b['created']} | "
                     f"{format_size(b['size'])} | {frees} | `{b['prune_command']}` |")
    return [*lines, "", "---", ""]


def _plan_section(doc: dict) -> list[str]:
    lines = ["## 🎯 Recommended action plan", ""]
    for step in doc["action_plan"]:
        lines += [f"### {step['title']}", ""]
        for n, item in enumerate(step["items"], 1):
            gain = f" - gain: {format_size(item['gain'])}" if item["gain"] else ""
            lines.append(f"{n}. **{item['what']}**{gain}")
            lines += [f"   - {action}" for action in item["actions"]]
        if step["gain"]:
            lines += ["", f"**Gain {step['priority']}: ~{format_size(step['gain'])} "
                          f"(cumulative ~{format_size(step['cumulative_gain'])})**"]
        lines.append("")
    fail = doc["fail_over"]
    if fail is not None:
        if fail["failed"]:
            lines.append(f"**KPI ❌:** {len(fail['failed'])} custom images above {format_size(fail['limit'])}: "
                         + _md(", ".join(f"{f['name']} ({format_size(f['size'])})" for f in fail["failed"])))
        else:
            lines.append(f"**KPI ✅:** no custom image above {format_size(fail['limit'])}")
        lines.append("")
    return [*lines, "---", ""]


def _method_section(doc: dict) -> list[str]:
    deep = [i for i in doc["images"] if i["depth"] == "files"]
    errors = [i for i in doc["images"] if i["deep_error"]]
    lines = ["## 🛠️ How this was measured", "",
             "- Inventory: the engine's `/system/df` and `docker images -f dangling=true` (same API request).",
             f"- Files read for {len(deep)} of {len(doc['images'])} images "
             f"({'custom images on a local overlay2 engine' if doc['options']['deep'] is None else 'all images, --deep' if doc['options']['deep'] else 'none, --no-deep'}); "
             "the others from their config and `docker history` (layer sizes measured, shares of a layer estimated "
             "from measured package sizes).",
             f"- GPU: {_gpu_text(doc['engine']['gpu'])}.",
             "- Security score: buildopt's documented formula (docs/security-score.md), the same as `buildopt compare`; "
             "vulnerabilities and secrets are not measured here.",
             "- Priorities: P0 gain >= 5 GB or half of a critical image; P1 >= 1 GB or critical; P2 >= 100 MB or "
             "medium; P3 otherwise (docs/audit.md)."]
    for image in errors:
        lines.append(f"- {_md(image['display'])}: files not read ({_md(image['deep_error'])})")
    return [*lines, "", "---", ""]


# --- small helpers --------------------------------------------------------------------------------------------
def _tail_lines(doc: dict) -> list[str]:
    lines = []
    if doc["fail_over"] is not None and doc["fail_over"]["failed"]:
        lines.append(f"\nKPI: {len(doc['fail_over']['failed'])} custom images above {format_size(doc['fail_over']['limit'])}: "
                     + ", ".join(f["name"] for f in doc["fail_over"]["failed"]))
    if doc["prune"]:
        prune = doc["prune"]
        lines.append(f"\nPruned {plan.count(len(prune['removed']), 'dangling image')}, freed {format_size(prune['freed'])}"
                     + (f"; kept {len(prune['kept'])}" if prune["kept"] else ""))
    return lines




def _title(doc: dict) -> str:
    engine = doc["engine"]
    where = f"context {engine['context']}" if engine["context"] else engine["endpoint"]
    return f"buildopt audit: {engine['name']} ({where}), Docker {engine['version']}, {doc['duration_s']} s"








def _causes(image: dict) -> str:
    parts = [f"{f['title'].split(' (')[0]} {format_size(f['bytes'])}" for f in image["findings"] if f["bytes"]]
    security = [f["slug"] for f in image["findings"] if f["security"]]
    return "; ".join(parts + ([", ".join(security)] if security else [])) or "-"


def _upstream_causes(image: dict) -> str:
    return ", ".join(f["title"].split(" (")[0].lower() for f in image["findings"] if f["upstream"] and f["bytes"])


def _possible(image: dict) -> str:
    if image["category"] == "custom":
        gain = image["savings"]["gain"]
        return f"✅ YES - {format_size(gain)}" if gain >= 100 * 1000**2 else "❌ NO (already lean)"
    if image["verdict"] == "ask-upstream":
        return f"⚠️ LIMITED - upstream {format_size(image['savings']['upstream_gain'])}"
    return "❌ NO (accept)"


def _optimized(image: dict) -> str:
    return format_size(image["savings"]["optimized_size"]) if image["category"] == "custom" else \
        f"{format_size(image['size'])} (accept)" if image["verdict"] == "accept" else \
        f"{format_size(image['size'])} (upstream: {format_size(image['size'] - image['savings']['upstream_gain'])})"


def _gain(image: dict) -> str:
    gain = image["savings"]["gain"]
    return f"**-{format_size(gain)}**" if gain >= 1000**3 else (f"-{format_size(gain)}" if gain else "0 B")


def _has(image: dict, slug: str) -> bool:
    return any(f["slug"] == slug for f in image["findings"])




def _limits_mark(image: dict) -> str:
    total = len(image["containers"])
    if not total:
        return "- (no container)"
    limited = image["containers_with_limits"]
    return "✅" if limited == total else f"❌ ({limited}/{total} containers with a memory limit)"


def _mark(healthcheck: str) -> str:
    return {"ok": "✅", "trivial": "⚠️ (trivial: can't fail)", "none": "❌"}.get(healthcheck, healthcheck)


def _depth_text(image: dict) -> str:
    if image["depth"] == "files":
        return f"files read ({image['reader']} reader): sizes measured"
    note = f" (files not read: {image['deep_error']})" if image["deep_error"] else ""
    return "config and history only: layer sizes measured, shares estimated" + note


def _basis_note(basis: str) -> str:
    return {"files": " - measured on the image's files", "layer": " - from measured layer sizes",
            "estimate": " - estimated from measured package sizes", "mixed": " - measured and estimated",
            "none": ""}.get(basis, "")


def _penalties_note(score: dict) -> str:
    if not score["penalties"]:
        return ""
    return " (" + ", ".join(f"{p['reason']} -{p['points']}" for p in score["penalties"]) + ")"


def _score_change(before, after) -> str:
    if before is None:
        return "-"
    return f"{before}/100" if after is None or after == before else f"{before}/100 → {after}/100"


def _score_text(score) -> str:
    return "-" if score is None else f"{score}/100"


def _score_icon(score) -> str:
    if score is None:
        return ""
    return "🔴 CRITICAL" if score < 50 else ("🟡 NEEDS WORK" if score < 75 else "🟢 GOOD")


def _gpu_text(gpu: dict) -> str:
    state = {True: "present", False: "none", None: "unknown"}[gpu["present"]]
    return f"{state} ({gpu['source']})"


def _containers_line(c: dict) -> str:
    if not c["total"]:
        return "none"
    return (f"{c['total']} ({c['running']} running): health checks {c['healthcheck']}/{c['total']}, "
            f"resource limits {c['resource_limits']}/{c['total']}, non-root {c['non_root']}/{c['total']}")


def _mount_text(mount: dict) -> str:
    flags = []
    if mount["source_code"]:
        flags.append("⚠️ source code")
    if mount["docker_socket"]:
        flags.append("⚠️ docker socket")
    text = f"{mount['source']}:{mount['destination']}:{'rw' if mount['writable'] else 'ro'}"
    return _md(text) + (f" ({', '.join(flags)})" if flags else "")


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    return text if len(text) <= width else text[: width - 1] + "…"


def _md(text) -> str:
    """Image names, tags, mounts and findings come from the engine: escaped like every markdown renderer's."""
    return escape(text)
