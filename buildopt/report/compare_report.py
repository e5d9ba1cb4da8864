"""`buildopt compare` reports: one JSON document (schema buildopt.compare/v1), and the table,
markdown (PR comment), SARIF and GitHub step summary rendered from it.

Everything renders from the JSON document, so the formats can't disagree, and a saved report.json is
enough to render the comment again later (the PR gate's second workflow does that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tabulate import tabulate

from .. import __version__
from ..inspect.model import GROUP_SHORT
from ..units import format_size
from . import sarif
from .compare_schema import SCHEMA, CompareReport
from .markdown import escape

if TYPE_CHECKING:
    from ..compare import CompareResult, Variant
    from ..inspect.model import ImageProfile
    from ..optimize.options import Change

COMMENT_MARKER = "<!-- buildopt-compare-report -->"
MAX_COMMENT_CHARS = 65_000  # GitHub rejects comments over 65,536 characters
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


# --- the document -------------------------------------------------------------------------------------
def compare_document(result: CompareResult) -> dict:
    variants = {variant.name: _variant_doc(variant) for variant in result.variants}
    original, optimized = variants["original"], variants["optimized"]
    delta = None
    if original["built"] and optimized["built"]:
        delta = {
            "size_bytes": optimized["size"] - original["size"],
            "size_percent": _percent(optimized["size"], original["size"]),
            "layers": optimized["layers"] - original["layers"],
            "score": _score_delta(original, optimized),
            "vulnerabilities": _vuln_delta(original, optimized),
        }
    findings = [_finding_doc(f) for f in result.analysis.findings]
    changes = _changes_doc(result)
    failures = [
        {"variant": v.name, "key": c.key, "actual": c.actual, "limit": c.limit, "reason": c.reason}
        for v in result.variants if v.verdict for c in v.verdict.failures
    ]
    return {
        "schema": SCHEMA,
        "buildopt_version": __version__,
        "dockerfile": str(result.options.dockerfile),
        "optimized_dockerfile": str(result.optimized.dockerfile),
        "optimized_generated": result.optimization is not None,
        "baseline": result.baseline_ref,
        "verdict": {
            "passed": int(result.exit_code) == 0,
            "exit_code": int(result.exit_code),
            "failures": failures,
        },
        "variants": variants,
        "delta": delta,
        "attribution": _attribution(result),
        "diff": result.diff.to_dict() if result.diff is not None and hasattr(result.diff, "to_dict") else None,
        "findings": findings,
        "changes": changes,
        "fallback": _fallback_doc(result),
        "smoke_imports": result.smoke_imports,
        "timings": {
            "total_s": round(result.duration_s, 2),
            "builds_s": {v.name: round(v.build.duration_s, 2) for v in result.variants if v.build},
            "overhead_s": round(result.overhead_s, 2),
            "stages_s": result.stage_timings,
            "fallback_s": round(result.fallback_s, 2),
        },
    }


def _variant_doc(variant: Variant) -> dict:
    build = variant.build
    doc: dict = {
        "built": variant.built,
        "tag": build.tag if build else None,
        "image_id": build.image_id if build else None,
        "build_time_s": round(build.duration_s, 2) if build else None,
        "build_log": str(build.log_path) if build else None,
        "build_error": build.error if build and not build.ok else None,
        "build_log_tail": build.log_tail if build and not build.ok else [],
    }
    profile = variant.profile
    if profile is not None:
        doc.update(
            size=profile.size,
            visible_size=profile.visible_size,
            wasted_bytes=profile.wasted_bytes,
            compressed_size=profile.compressed_size,
            layers=len(profile.layers),
            user=profile.config.user or "root",
            runs_as_root=profile.config.runs_as_root,
            healthcheck=profile.config.healthcheck,
            groups=dict(profile.groups),
            models_bytes=sum(model.size for model in profile.models),
            cuda_bytes=profile.cuda.total_bytes,
            torch=profile.cuda.torch_version,
            inspect_reader=profile.reader_label,
        )
    else:
        doc.update(size=0, layers=0)
    scan = variant.scan
    if scan is not None:
        items = [
            {"id": v.id, "package": v.package, "installed": v.installed_version, "fixed": v.fixed_version,
             "severity": v.severity, "target": v.target}
            for v in scan.vulnerabilities
        ]
        counts = {severity: sum(1 for item in items if item["severity"] == severity) for severity in SEVERITIES}
        doc["vulnerabilities"] = {
            "counts": counts,
            "critical_ids": sorted({item["id"] for item in items if item["severity"] == "CRITICAL"}),
            "items": items,
            "method": scan.method,
        }
        doc["secrets"] = len(scan.secrets)
        doc["secret_items"] = [
            {"rule": item.rule_id, "category": item.category, "severity": item.severity, "title": item.title,
             "path": item.target, "line": item.start_line}
            for item in scan.secrets
        ]
        doc["misconfigurations"] = [
            {"id": item.id, "title": item.title, "severity": item.severity, "message": item.message,
             "target": item.target, "resolution": item.resolution}
            for item in scan.misconfigurations
        ]
        doc["scanners"] = list(scan.scanners)
        # Only worth saying when the image holds Java archives that trivy would otherwise have read.
        doc["java_skipped"] = scan.java_skipped and _has_java_archives(profile)
    else:
        doc["vulnerabilities"] = None
        doc["scan_error"] = variant.scan_error
    if variant.smoke is not None:
        doc["smoke"] = {
            "passed": variant.smoke.ok,
            "uid": variant.smoke.uid,
            "checks": [{"kind": c.kind, "name": c.name, "ok": c.ok, "detail": c.detail} for c in variant.smoke.checks],
        }
    else:
        doc["smoke"] = None
    if variant.score is not None:
        doc["score"] = {
            "score": variant.score.score,
            "penalties": [{"reason": p.reason, "points": p.points} for p in variant.score.penalties],
            "not_measured": list(variant.score.not_measured),
        }
    else:
        doc["score"] = None
    if variant.verdict is not None:
        doc["budget"] = {
            "passed": variant.verdict.passed,
            "checks": [{"key": c.key, "ok": c.ok, "actual": c.actual, "limit": c.limit, "reason": c.reason}
                       for c in variant.verdict.checks],
        }
    else:
        doc["budget"] = None
    return doc


def _has_java_archives(profile: ImageProfile | None) -> bool:
    from ..scan import JAVA_ARCHIVE_GLOBS

    suffixes = tuple(glob.removeprefix("**/*") for glob in JAVA_ARCHIVE_GLOBS)
    return profile is not None and any(entry.path.endswith(suffixes) for entry in profile.files)


def _finding_doc(finding) -> dict:
    return {
        "rule": finding.rule, "slug": finding.slug, "severity": str(finding.severity).lower(),
        "line": finding.line, "message": finding.message, "fix": finding.fix,
        "estimated_bytes": finding.estimated_bytes,
    }


def _change_doc(change: Change, status: str | None = None) -> dict:
    return {
        "key": change.key,
        "status": status or change.status.value,
        "rules": list(change.rule_ids),
        "description": change.description,
        "reason": change.reason,
        "expected_savings_bytes": change.expected_savings_bytes,
    }


# --- build-verified optimization (the fallback) ---------------------------------------------------------
def _changes_doc(result: CompareResult) -> list[dict]:
    """The optimized variant's changes, each with its status: applied, advised (optimize couldn't show it safe),
    or dropped (it broke the build or a smoke check, and the fallback took it out)."""
    optimization = result.optimization
    if optimization is None:
        return []
    fallback = result.fallback
    dropped = {item.key: item for item in (fallback.dropped if fallback else [])}
    docs = [_change_doc(change, "applied") for change in optimization.changes]
    docs += [_change_doc(change, "advised") for change in optimization.advice
             if change.key not in dropped]
    # As the change was applied before it was dropped (its advice in the final variant only says "turned off").
    docs += [{"key": item.key, "status": "dropped", "rules": list(item.rules), "description": item.description,
              "reason": item.reason, "expected_savings_bytes": None} for item in dropped.values()]
    return docs


def _fallback_doc(result: CompareResult) -> dict:
    fallback = result.fallback
    if fallback is not None:
        return fallback.to_dict()
    optimization = result.optimization
    enabled = optimization is not None and not result.options.no_fallback
    return {"enabled": enabled, "ran": False, "attempts": 0, "dropped": [],
            "applied": list(optimization.keys) if optimization is not None else [], "first_failure": None,
            "exhausted": False, "seconds": 0.0, "trials": []}


def _fallback_markdown(doc: dict) -> list[str]:
    fallback = doc.get("fallback") or {}
    if not fallback.get("ran"):
        return []
    first = fallback.get("first_failure") or {}
    kept = ", ".join(f"`{_md(key)}`" for key in fallback.get("applied", [])) or "no change"
    lines = ["### Changes dropped to keep the app working", "",
             f"The first optimized variant: {_md(first.get('summary', 'failed'))}. buildopt rebuilt it "
             f"{fallback.get('attempts', 0)} times without some of its changes (delta debugging) and kept the variant that "
             f"passed: the optimized Dockerfile in this report. Kept: {kept}.", ""]
    for item in fallback.get("dropped", []):
        rules = f" ({', '.join(_md(rule) for rule in item['rules'])})" if item.get("rules") else ""
        evidence = f" Evidence: {_md(item['evidence']).replace('`', chr(39))}" if item.get("evidence") else ""
        lines.append(f"- ⚠️ **dropped `{_md(item['key'])}`**{rules}: {_md(item['description'])[:300]}. Why: "
                     f"{_md(item['reason'])}.{evidence}")
    if fallback.get("exhausted"):
        lines.append(f"- the search stopped after {fallback.get('attempts', 0)} attempts: the best variant that passed was kept")
    return [*lines, ""]


def _fallback_table_note(doc: dict) -> list[str]:
    fallback = doc.get("fallback") or {}
    if not fallback.get("ran"):
        return []
    dropped = "; ".join(f"{item['key']} ({item['reason']}: {item['evidence']})" for item in fallback.get("dropped", []))
    return [f"Fallback: {fallback.get('attempts', 0)} attempts; dropped {dropped or 'nothing'}; "
            f"kept {', '.join(fallback.get('applied', [])) or 'no change'}."]


def _attribution(result: CompareResult) -> list[dict]:
    """Where the bytes went: visible bytes per group, before and after, largest change first."""
    a, b = result.original.profile, result.optimized.profile
    if a is None or b is None:
        return []
    from ..inspect.model import GROUPS

    rows = []
    for key, label in GROUPS.items():
        before, after = a.groups.get(key, 0), b.groups.get(key, 0)
        if before or after:
            rows.append({"group": key, "label": label, "original": before, "optimized": after, "delta": after - before})
    hidden_before, hidden_after = a.wasted_bytes, b.wasted_bytes
    if hidden_before or hidden_after:
        rows.append({"group": "hidden", "label": "hidden copies (overwritten or deleted in a later layer)",
                     "original": hidden_before, "optimized": hidden_after, "delta": hidden_after - hidden_before})
    return sorted(rows, key=lambda row: row["delta"])


def _vuln_delta(original: dict, optimized: dict) -> dict | None:
    if not original.get("vulnerabilities") or not optimized.get("vulnerabilities"):
        return None

    def keys(doc):
        return {(v["id"], v["package"], v["installed"]): v for v in doc["vulnerabilities"]["items"]}

    before, after = keys(original), keys(optimized)
    return {
        "fixed": [before[k] for k in sorted(before.keys() - after.keys())],
        "new": [after[k] for k in sorted(after.keys() - before.keys())],
    }


def _score_delta(original: dict, optimized: dict) -> int | None:
    if original.get("score") and optimized.get("score"):
        return optimized["score"]["score"] - original["score"]["score"]
    return None


def _percent(value: float, reference: float) -> float | None:
    return None if not reference else round((value - reference) / reference * 100, 1)


# --- renderers ----------------------------------------------------------------------------------------
def render_json(doc: dict) -> str:
    """report.json, through the schema: a field compare_schema doesn't define fails here, not in a reader."""
    return CompareReport.from_dict(doc).to_json()


def render_table(doc: dict) -> str:
    o, p = doc["variants"]["original"], doc["variants"]["optimized"]
    rows = [
        ("build", _build_cell(o), _build_cell(p), ""),
        ("size", _size(o), _size(p), _delta_size(doc)),
        ("layers", o.get("layers") or "-", p.get("layers") or "-", _signed(doc["delta"]["layers"]) if doc["delta"] else ""),
        ("user", o.get("user", "-"), p.get("user", "-"), ""),
        ("vulnerabilities C/H/M/L", _vulns(o), _vulns(p), ""),
        ("smoke tests", _smoke(o), _smoke(p), ""),
        ("security score", _score(o), _score(p), _signed(doc["delta"]["score"]) if doc["delta"] and doc["delta"]["score"] is not None else ""),
        ("budget", _budget(o), _budget(p), ""),
    ]
    text = tabulate(rows, headers=("", "original", "optimized", "change"), tablefmt="simple")
    if doc["attribution"]:
        attribution = [(row["label"], format_size(row["original"]), format_size(row["optimized"]),
                        format_size(row["delta"], signed=True)) for row in doc["attribution"] if row["delta"]]
        text += "\n\nWhere the bytes went\n" + tabulate(attribution, headers=("group", "original", "optimized", "change"),
                                                      tablefmt="simple")
    notes = _scan_notes(doc) + _fallback_table_note(doc)
    if notes:
        text += "\n\n" + "\n".join(notes)
    text += "\n\n" + verdict_line(doc)
    return text + "\n"


def _scan_notes(doc: dict) -> list[str]:
    skipped = [name for name, variant in doc["variants"].items() if variant.get("java_skipped")]
    if not skipped:
        return []
    return [f"Note: Java archives (*.jar...) in the {' and '.join(skipped)} image were not scanned: the "
            f"trivy cache has no Java DB."]


def render_markdown(doc: dict) -> str:
    o, p = doc["variants"]["original"], doc["variants"]["optimized"]
    status = "✅ within budget" if doc["verdict"]["passed"] else ("❌ build failed" if doc["verdict"]["exit_code"] == 3 else "❌ over budget")
    lines = [
        COMMENT_MARKER,
        f"## buildopt: `{_md(doc['dockerfile'])}` — {status}",
        "",
        "| | original | optimized | change |",
        "|---|---:|---:|---:|",
        f"| size | {_size(o)} | {_size(p)} | {_delta_size(doc)} |",
        f"| layers | {o.get('layers') or '-'} | {p.get('layers') or '-'} | {_signed(doc['delta']['layers']) if doc['delta'] else ''} |",
        f"| user | {_md(o.get('user', '-'))} | {_md(p.get('user', '-'))} | |",
        f"| vulnerabilities C/H/M/L | {_vulns(o)} | {_vulns(p)} | |",
        f"| smoke tests | {_smoke(o)} | {_smoke(p)} | |",
        f"| security score | {_score(o)} | {_score(p)} | {_signed(doc['delta']['score']) if doc['delta'] and doc['delta']['score'] is not None else ''} |",
        f"| build time | {_seconds(o)} | {_seconds(p)} | |",
        "",
    ]
    notes = _scan_notes(doc)
    if notes:
        lines += [*notes, ""]
    lines += _fallback_markdown(doc)
    if doc["verdict"]["failures"]:
        lines += ["### Budget", ""]
        lines += [f"- ❌ **{_md(f['key'])}** ({f['variant']}): {_md(f['actual'])} against {_md(f['limit'])}. {_md(f['reason'])}"
                  for f in doc["verdict"]["failures"]]
        lines.append("")
    for name, variant in (("original", o), ("optimized", p)):
        if variant.get("build_error"):
            lines += [f"### ❌ The {name} build failed", "", f"`{_md(variant['build_error'])}`", "", "```",
                      *[escape(line[:200], code=True) for line in variant["build_log_tail"][-15:]], "```", ""]
    rows = changed_groups(doc)
    if rows:
        chart = mermaid_chart(rows)
        lines += ["### Where the bytes went", "", *chart, *([""] if chart else []),
                  "| group | original | optimized | change |", "|---|---:|---:|---:|"]
        lines += [f"| {_md(row['label'])} | {format_size(row['original'])} | {format_size(row['optimized'])} | "
                  f"{format_size(row['delta'], signed=True)} |" for row in rows]
        lines.append("")
    removed = largest_removed(doc)
    if removed:
        lines += ["<details><summary>Largest packages removed</summary>", "", "| package | size |", "|---|---:|"]
        lines += [f"| {_md(pkg['package'])} | {format_size(pkg['size'])} |" for pkg in removed]
        lines += ["", "</details>", ""]
    vuln_delta = (doc.get("delta") or {}).get("vulnerabilities")
    if vuln_delta and (vuln_delta["fixed"] or vuln_delta["new"]):
        lines += ["<details><summary>Vulnerabilities fixed and introduced by the optimized variant</summary>", ""]
        lines += [f"- fixed: {_md(v['id'])} ({v['severity'].lower()}) in {_md(v['package'])} {_md(v['installed'])}" for v in vuln_delta["fixed"][:50]]
        lines += [f"- new: {_md(v['id'])} ({v['severity'].lower()}) in {_md(v['package'])} {_md(v['installed'])}" for v in vuln_delta["new"][:50]]
        lines += ["", "</details>", ""]
    if doc["findings"]:
        lines += [f"<details><summary>{len(doc['findings'])} findings in the Dockerfile</summary>", "",
                  "| line | severity | rule | message |", "|---:|---|---|---|"]
        lines += [f"| {f['line']} | {f['severity']} | {f['rule']} {_md(f['slug'])} | {_md(f['message'])} |" for f in doc["findings"]]
        lines += ["", "</details>", ""]
    lines.append(f"<sub>buildopt {doc['buildopt_version']} · report schema {doc['schema']}{_method_note(doc)}</sub>")
    return _fit("\n".join(lines) + "\n")


# --- parts the markdown and the HTML report share, so they show the same figures --------------------------
def changed_groups(doc: dict) -> list[dict]:
    """"Where the bytes went": the attribution rows whose bytes changed, largest loss first."""
    return [row for row in doc["attribution"] if row["delta"]]


_ACCOUNT_COMMANDS = ("useradd", "adduser", "groupadd", "addgroup")


def account_bytes(doc: dict) -> int:
    """Bytes of the optimized image's layers that create its user account (the /etc/passwd, group and shadow files
    they rewrite): what running as non-root costs. An image that grew by no more than this grew only for that."""
    layers = ((doc.get("diff") or {}).get("layers") or {}).get("only_b") or []
    return sum(int(layer.get("size") or 0) for layer in layers
               if any(command in (layer.get("created_by") or "") for command in _ACCOUNT_COMMANDS))


def largest_removed(doc: dict, limit: int = 25) -> list[dict]:
    """Packages the optimized image no longer holds, with the bytes each took in the original."""
    return largest_packages(doc.get("diff"), "removed", limit)


def largest_packages(diff: dict | None, change: str, limit: int) -> list[dict]:
    """`change` "removed" (bytes and version in A) or "added" (in B): {package, manager, size}, largest first."""
    side = "a" if change == "removed" else "b"
    packages = ((diff or {}).get("packages") or {}).get(change) or []
    rows = [{"package": " ".join(part for part in (pkg.get("name") or "?", pkg.get(f"version_{side}") or "") if part),
             "manager": pkg.get("manager") or "", "size": int(pkg.get(f"size_{side}") or 0)} for pkg in packages]
    return sorted(rows, key=lambda row: (-int(row["size"]), str(row["package"])))[:limit]


def summary_rows(doc: dict) -> list[tuple[str, str, str, str]]:
    """The comment's first table: (row, original, optimized, change)."""
    o, p = doc["variants"]["original"], doc["variants"]["optimized"]
    delta = doc["delta"]
    return [
        ("size", _size(o), _size(p), _delta_size(doc)),
        ("layers", str(o.get("layers") or "-"), str(p.get("layers") or "-"), _signed(delta["layers"]) if delta else ""),
        ("user", str(o.get("user", "-")), str(p.get("user", "-")), ""),
        ("vulnerabilities C/H/M/L", _vulns(o), _vulns(p), ""),
        ("smoke tests", _smoke(o), _smoke(p), ""),
        ("security score", _score(o), _score(p),
         _signed(delta["score"]) if delta and delta["score"] is not None else ""),
        ("build time", _seconds(o), _seconds(p), ""),
    ]


CHART_COLOURS = ("#c0504d", "#4f81bd")  # original, optimized


def mermaid_chart(rows: list[dict]) -> list[str]:
    """A mermaid bar chart of the rows' bytes, original and optimized, that GitHub draws in the comment.

    Mermaid's xychart draws a second bar series over the first, not beside it: the original is drawn
    first and the optimized in front of it. The table under the chart holds the same figures as text.
    """
    # Only the groups buildopt names: nothing from the (possibly untrusted) document goes inside the fence.
    rows = [row for row in rows if row.get("group") in GROUP_SHORT]
    if not rows:
        return []
    largest = max(max(row["original"], row["optimized"]) for row in rows) or 1
    unit, scale, digits = ("GB", 1000**3, 2) if largest >= 1000**3 else ("MB", 1000**2, 1)

    def values(key: str) -> str:
        return ", ".join(f"{row[key] / scale:.{digits}f}" for row in rows)

    labels = ", ".join(f'"{GROUP_SHORT[row["group"]]}"' for row in rows)
    palette = ", ".join(CHART_COLOURS)
    return [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        f'    title "Size by group in {unit}: original (red), optimized (blue, in front)"',
        f"    x-axis [{labels}]",
        f'    y-axis "{unit}" 0 --> {_axis_top(largest / scale)}',
        f"    bar [{values('original')}]",
        f"    bar [{values('optimized')}]",
        "```",
    ]


def _axis_top(value: float) -> str:
    """A round number a little above value, for the chart's y axis."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if value / step <= 10:
            top = (int(value / step) + 1) * step
            return f"{top:g}"
    return f"{value * 1.1:.0f}"


def render_sarif(doc: dict) -> str:
    """Dockerfile findings and the shipped image's vulnerabilities, for GitHub code scanning."""
    return sarif.dumps(sarif.log([sarif.compare_run(doc)]))


def write_step_summary(markdown: str) -> bool:
    """Append to the GitHub job summary when running in Actions; False when not."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with Path(path).open("a", encoding="utf-8") as summary:
        summary.write(markdown.replace(COMMENT_MARKER + "\n", "") + "\n")
    return True


# --- cells --------------------------------------------------------------------------------------------
def _size(variant: dict) -> str:
    return format_size(variant["size"]) if variant.get("built") and variant.get("size") else "-"


def _delta_size(doc: dict) -> str:
    delta = doc["delta"]
    if not delta:
        return ""
    percent = f" ({delta['size_percent']:+.1f}%)" if delta["size_percent"] is not None else ""
    return format_size(delta["size_bytes"], signed=True) + percent


def _build_cell(variant: dict) -> str:
    if variant.get("build_time_s") is None:
        return "-"
    return f"ok {variant['build_time_s']:.1f}s" if variant["built"] else "FAILED"


def _seconds(variant: dict) -> str:
    return f"{variant['build_time_s']:.1f} s" if variant.get("build_time_s") is not None else "-"


def _vulns(variant: dict) -> str:
    vulns = variant.get("vulnerabilities")
    if not vulns:
        return "not scanned"
    counts = vulns["counts"]
    return "/".join(str(counts.get(s, 0)) for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW"))


def _smoke(variant: dict) -> str:
    smoke = variant.get("smoke")
    if not smoke:
        return "not run"
    passed = sum(1 for check in smoke["checks"] if check["ok"])
    return f"{'passed' if smoke['passed'] else 'FAILED'} {passed}/{len(smoke['checks'])}"


def _score(variant: dict) -> str:
    return f"{variant['score']['score']}/100" if variant.get("score") else "-"


def _budget(variant: dict) -> str:
    budget = variant.get("budget")
    if not budget:
        return "-"
    return "pass" if budget["passed"] else "FAIL " + ", ".join(c["key"] for c in budget["checks"] if not c["ok"])


def _signed(value) -> str:
    return f"{value:+d}" if isinstance(value, int) else ""


def _method_note(doc: dict) -> str:
    """How the images were read and scanned (the fast paths, or the export fallback), for the footer."""
    variant = doc["variants"]["original"]
    parts = []
    if variant.get("inspect_reader"):
        parts.append(f"layers read with {_md(variant['inspect_reader'])}")
    if (variant.get("vulnerabilities") or {}).get("method"):
        parts.append(f"scanned with trivy {_md(variant['vulnerabilities']['method'])}")
    return "".join(f" · {part}" for part in parts)


def verdict_line(doc: dict) -> str:
    verdict = doc["verdict"]
    if verdict["passed"]:
        return "verdict: PASS (within budget)"
    if verdict["exit_code"] == 3:
        return "verdict: BUILD FAILED"
    reasons = "; ".join(f"{f['key']}: {f['reason']}" for f in verdict["failures"])
    return f"verdict: FAIL ({reasons})"


def _md(text) -> str:
    """The report may carry untrusted text: one escape for every markdown renderer (report/markdown.py)."""
    return escape(text)


def _fit(markdown: str) -> str:
    if len(markdown) <= MAX_COMMENT_CHARS:
        return markdown
    note = "\n\n… report truncated to fit a GitHub comment; the full report is in the workflow artifact.\n"
    return markdown[: MAX_COMMENT_CHARS - len(note)] + note
