"""The HTML report (buildopt/report/html.py, treemap.py) and the PR comment's chart, without a browser.

Profiles come from synthetic layers through the readers' own code path (tests/unit/test_diff.py); the
compare document is the one recorded from a real paperflow-worker compare (tests/data/README.md); the
audit document is tests/data/audit/audit-document.json (tests/data/audit/README.md). The browser test is
tests/integration/test_html_browser.py.
"""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from buildopt.diff import diff_profiles
from buildopt.inspect.model import GROUPS
from buildopt.report import compare_report, html, treemap
from buildopt.units import format_size
from tests.unit.test_diff import SITE, base_layer, profile, scan, wheel

DATA = Path(__file__).resolve().parent.parent / "data"
PAPERFLOW = json.loads((DATA / "compare-report-paperflow.json").read_text())
AUDIT = json.loads((DATA / "audit" / "audit-document.json").read_text())


# --- synthetic images ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair():
    """A CUDA-torch image with a baked model, a toolchain, a cache and a hidden copy; and its CPU rewrite."""
    cuda = {**wheel("torch", "2.13.0", {"torch/lib/libtorch_cpu.so": 40_000, "torch/lib/libtorch_cuda.so": 30_000}),
            **wheel("nvidia-cublas-cu12", "12.1.3.1", {"nvidia/cublas/lib/libcublas.so.12": 90_000,
                                                        "nvidia/cublas/lib/libcublasLt.so.12": 50_000}),
            **wheel("triton", "3.7.1", {"triton/_C/libtriton.so": 25_000}),
            **wheel("numpy", "2.4.6", {"numpy/core.so": 7_000, **{f"numpy/small/{n}.py": 10 for n in range(300)}})}
    hf = "root/.cache/huggingface/hub/models--acme--tiny/blobs/5f1a2b"
    original = profile("orig", [base_layer("sha256:base-a", True), scan(cuda, "sha256:pip-a"),
                                scan({hf: 20_000, "app/data.bin": 4_000, "app/<img src=x onerror=alert(1)>.bin": 6_000},
                                     "sha256:model-a"),
                                scan({"app/data.bin": 4_100}, "sha256:overwrite-a")],
                       {"Cmd": ["python3"]})
    cpu = {**wheel("torch", "2.13.0+cpu", {"torch/lib/libtorch_cpu.so": 39_000}),
           **wheel("numpy", "2.4.6", {"numpy/core.so": 7_000})}
    optimized = profile("opt", [base_layer("sha256:base-b", False), scan(cpu, "sha256:pip-b")],
                        {"Cmd": ["python3"], "User": "app"})
    return original, optimized


def test_treemap_groups_are_the_profiles_byte_attribution(pair):
    original, _ = pair
    root = treemap.profile_tree(original)
    groups = {node.key: node.size for node in root.children}
    expected = {key: size for key, size in original.groups.items() if size}
    expected["hidden"] = original.wasted_bytes
    assert original.wasted_bytes == 4_000  # app/data.bin overwritten by a later layer
    assert groups == expected
    assert root.size == original.size
    assert next(node.key for node in root.children) == "cuda_wheels"


def test_every_byte_is_in_one_leaf_and_small_files_are_summed(pair):
    original, _ = pair
    root = treemap.profile_tree(original, min_share=0.01)
    leaves = [node for node in root.walk() if not node.children]
    assert sum(node.size for node in leaves) == original.size
    for node in root.walk():
        if node.children:
            assert node.size == sum(child.size for child in node.children), node.label
    numpy = next(node for node in root.walk() if node.label == "numpy" and node.key == "python_packages")
    labels = {leaf.label for leaf in numpy.walk()}
    assert any(label.endswith("small files") for label in labels)  # 300 x 10 B, one leaf
    assert not any(label.endswith(".py") for label in labels)


def test_treemap_of_many_files_stays_small():
    """55k files in 2,000 directories: the tree keeps a bounded number of nodes."""
    files = {f"{SITE}/pkg/d{n % 2000}/f{n}.py": 1000 + n % 7 for n in range(55_000)}
    files.update({f"{SITE}/pkg/big{n}.so": 5_000_000 for n in range(3)})
    big = profile("many", [base_layer("sha256:base-m", False), scan(files, "sha256:many")], {})
    root = treemap.profile_tree(big)
    nodes = sum(1 for _ in root.walk())
    assert nodes < 400, nodes
    assert sum(node.size for node in root.walk() if not node.children) == big.size
    views = treemap.render_views(root, "t")
    assert sum(len(view.svg) for view in views) < 400_000


def test_root_view_areas_are_in_proportion_to_bytes(pair):
    original, _ = pair
    root = treemap.profile_tree(original)
    svg = treemap.render_views(root, "t")[0].svg
    cells = re.findall(r'<rect class="d0" data-key="([^"]+)" data-bytes="(\d+)" x="[^"]+" y="[^"]+" '
                       r'width="([^"]+)" height="([^"]+)"', svg)
    assert {key for key, *_ in cells} == {node.key for node in root.children}
    area = treemap.WIDTH * treemap.HEIGHT
    for key, size, width, height in cells:
        assert float(width) * float(height) / area == pytest.approx(int(size) / root.size, rel=0.01, abs=1e-5), key


def test_views_link_up_and_down(pair):
    original, _ = pair
    views = treemap.render_views(treemap.profile_tree(original), "t")
    ids = {view.id for view in views}
    for view in views:
        for target in re.findall(r'data-view="([^"]+)"', view.svg):
            assert target in ids
        if view.parent is not None:
            assert view.parent in ids and 'hidden' in view.svg.split(">", 1)[0]
    assert views[0].parent is None and "hidden" not in views[0].svg.split(">", 1)[0]


def test_diff_page_is_self_contained_and_escapes_names(pair):
    original, optimized = pair
    page = html.render_diff(diff_profiles(original, optimized), original, optimized)
    assert_self_contained(page)
    assert page.count('class="treemap"') == 2 and 'class="layer-bars"' in page
    removed = table_rows(page, "packages-removed")
    assert removed[1][:2] == ["nvidia-cublas-cu12 12.1.3.1", "pip"]
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.bin" in page  # a file name, as text


def assert_self_contained(page: str) -> None:
    assert "<script src" not in page and "<link rel=\"stylesheet\"" not in page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "@import" not in page and "url(http" not in page and "@font-face" not in page


# --- compare: the markdown fixes, the chart, and the HTML's agreement with the markdown ------------------------
def test_largest_packages_removed_show_their_original_bytes_and_versions():
    markdown = compare_report.render_markdown(PAPERFLOW)
    section = markdown[markdown.index("Largest packages removed"):]
    section = section[:section.index("</details>")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| package")]
    assert len(rows) == 25
    assert not any(row.endswith("| 0 B |") for row in rows)
    assert not any("  |" in row or "  " in row.split("|")[1] for row in rows)  # no double space for a version
    removed = {p["name"]: p for p in PAPERFLOW["diff"]["packages"]["removed"]}
    triton = removed["triton"]
    assert f"| triton {triton['version_a']} | {format_size(triton['size_a'])} |" in section
    assert triton["size_a"] > 100 * 1000**2
    assert any(row.startswith("| nvidia-") for row in rows)
    assert any(row.startswith("| gcc-12 ") for row in rows)


def test_mermaid_chart_sits_above_the_table_with_its_figures():
    markdown = compare_report.render_markdown(PAPERFLOW)
    section = markdown[markdown.index("### Where the bytes went"):]
    chart = section[section.index("```mermaid"):section.index("```\n", section.index("```mermaid") + 3)]
    assert section.index("```mermaid") < section.index("| group | original |")
    rows = compare_report.changed_groups(PAPERFLOW)
    bars = re.findall(r"bar \[([^\]]*)\]", chart)
    assert len(bars) == 2
    unit = 1000**3 if "in GB" in chart else 1000**2
    for values, key in zip(bars, ("original", "optimized"), strict=True):
        numbers = [float(value) for value in values.split(",")]
        assert numbers == pytest.approx([row[key] / unit for row in rows], abs=0.01)
    assert re.search(r'x-axis \["CUDA wheels"', chart)  # the largest loss first
    top = float(re.search(r'y-axis "\w+" 0 --> ([\d.]+)', chart).group(1))
    assert top >= max(max(float(v) for v in bar.split(",")) for bar in bars)


def test_html_and_markdown_show_the_same_figures():
    page = html.render_compare(PAPERFLOW, {})
    markdown = compare_report.render_markdown(PAPERFLOW)

    def md_table(after: str) -> list[list[str]]:
        block = markdown[markdown.index(after):].split("\n\n")
        lines = next(part for part in block if part.startswith("|")).splitlines()
        return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]

    summary = table_rows(page, "summary")[1:]
    assert [row[:4] for row in summary] == [row[:4] for row in md_table("| | original |")]
    assert table_rows(page, "attribution")[1:] == md_table("| group | original |")
    removed = [[row[0], row[2]] for row in table_rows(page, "packages-removed")[1:]]
    assert removed == md_table("| package | size |")
    assert len(removed) == 25


def test_dropped_changes_render_only_when_present():
    assert "changes-dropped" not in html.render_compare(PAPERFLOW, {})
    doc = copy.deepcopy(PAPERFLOW)
    doc["fallback"] = {"ran": True, "dropped": [{"key": "cpu-torch", "rules": ["BO201"],
                                                  "description": "CPU torch index (`--index-url`)",
                                                  "reason": "the optimized build failed with it: no matching distribution",
                                                  "evidence": ""}]}
    page = html.render_compare(doc, {})
    rows = table_rows(page, "changes-dropped-table")
    assert rows[1] == ["BO201", "CPU torch index (--index-url)", "the optimized build failed with it: no matching distribution"]
    assert "<code>--index-url</code>" in page


def test_compare_page_holds_the_verdict_budget_vulnerabilities_smoke_and_changes():
    page = html.render_compare(PAPERFLOW, {})
    assert_self_contained(page)
    assert compare_report.verdict_line(PAPERFLOW) in unescape(page)
    for name in ("original", "optimized"):
        checks = (PAPERFLOW["variants"][name]["budget"] or {}).get("checks") or []
        rows = table_rows(page, None, css=f'class="budget-checks" data-variant="{name}"')
        assert [row[0] for row in rows[1:]] == [check["key"] for check in checks]
        smoke = PAPERFLOW["variants"][name]["smoke"]["checks"]
        assert len(table_rows(page, None, css=f'class="smoke-checks" data-variant="{name}"')) == len(smoke) + 1
    counts = table_rows(page, "severity-counts")
    original = PAPERFLOW["variants"]["original"]["vulnerabilities"]["counts"]
    assert counts[1][1:] == [str(original[s]) for s in html.SEVERITIES]
    assert len(table_rows(page, "changes-applied")) == len(PAPERFLOW["changes"]) + 1


def test_group_bars_draw_both_images_on_one_scale():
    page = html.render_compare(PAPERFLOW, {})
    svg = page[page.index('<svg class="group-bars"'):]
    svg = svg[:svg.index("</svg>")]
    widths: dict[int, float] = {}
    for index, block in enumerate(svg.split("<text x=\"0\"")[1:]):
        widths[index] = sum(float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', block))
    sizes = [PAPERFLOW["variants"][n]["size"] for n in ("original", "optimized")]
    assert widths[1] / widths[0] == pytest.approx(sizes[1] / sizes[0], rel=0.01)


# --- audit ---------------------------------------------------------------------------------------------------
def test_audit_page_renders_the_plan_the_markdown_renders():
    page = html.render_audit(AUDIT)
    assert_self_contained(page)
    text = unescape(page)
    for step in AUDIT["action_plan"]:
        assert f'data-priority="{step["priority"]}"' in page
        for item in step["items"]:
            assert item["what"] in text
    for container in AUDIT["containers"]:
        assert container["name"] in text
        for problem in container["problems"]:
            assert problem["text"] in text
    s = AUDIT["summary"]
    assert f'<span id="reclaimable">{format_size(s["dangling"]["reclaimable"])}</span>' in page
    rows = table_rows(page, "images")[1:]
    assert [row[0] for row in rows] == [i["display"] for i in sorted(AUDIT["images"], key=lambda i: -i["size"])]


def test_audit_treemap_sizes_images_by_category():
    page = html.render_audit(AUDIT)
    root = page[page.index('<svg class="treemap-view"'):]
    root = root[:root.index("</svg>")]
    cells = dict(re.findall(r'<rect class="d0" data-key="([^"]+)" data-bytes="(\d+)"', root))
    by_category = AUDIT["summary"]["by_category"]
    for key, value in by_category.items():
        if value["count"]:
            assert int(cells[key]) == value["size"]
    assert int(cells["dangling"]) == AUDIT["summary"]["dangling"]["size"]


# --- helpers -----------------------------------------------------------------------------------------------------
class _Tables(HTMLParser):
    def __init__(self, table_id: str | None, css: str | None):
        super().__init__()
        self.table_id, self.css = table_id, css
        self.depth = 0
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table":
            wanted = (self.table_id is not None and attributes.get("id") == self.table_id) or (
                self.css is not None and self.css == " ".join(f'{k}="{v}"' for k, v in attrs if k != "id"))
            if self.depth or wanted:
                self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.depth and tag == "table":
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(page: str, table_id: str | None, css: str | None = None) -> list[list[str]]:
    parser = _Tables(table_id, css)
    parser.feed(page)
    assert parser.rows, f"no table {table_id or css}"
    return parser.rows


def unescape(page: str) -> str:
    import html as std_html

    return std_html.unescape(page)


def test_groups_cover_every_key():
    assert set(treemap.COLOURS) >= set(GROUPS) | {"hidden"}


def test_a_failed_build_renders_its_error_and_no_treemap_for_it():
    doc = copy.deepcopy(PAPERFLOW)
    doc["variants"]["optimized"] = {"built": False, "tag": None, "image_id": None, "build_time_s": 3.2,
                                    "build_log": "build-optimized.log", "build_error": "RUN pip install failed: exit 1",
                                    "build_log_tail": ["ERROR: No matching distribution found for torch==9.9"],
                                    "size": 0, "layers": 0, "vulnerabilities": None, "scan_error": None,
                                    "smoke": None, "score": None, "budget": None}
    doc["delta"], doc["attribution"], doc["diff"] = None, [], None
    doc["verdict"] = {"passed": False, "exit_code": 3, "failures": []}
    page = html.render_compare(doc, {})
    assert "The optimized build failed" in page and "No matching distribution found for torch==9.9" in page
    assert '<span class="badge fail" id="verdict">build failed</span>' in page
    assert 'id="attribution"' not in page and "not built" in page
