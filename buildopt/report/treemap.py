"""Byte treemaps for the HTML report: a tree of what the bytes are, laid out by squarify, drawn as SVG.

`profile_tree` turns an `ImageProfile` into group -> unit (pip or Debian package, model repo, cache dir,
top directory) -> directories -> files. Each file's group is the one the profile's own byte attribution
gives it (classify.file_group), so the groups' totals are the profile's `groups` exactly. Entries below
a share of the image are merged: a 55k-file image becomes a few hundred nodes.

`render_views` draws one SVG per node that has children (the drill-down views): its children as
squarified cells, each showing its own children nested inside. The page's script shows one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import squarify
from markupsafe import escape

from ..inspect.classify import bucket_of_dir, cache_dir, file_group
from ..inspect.model import GROUP_SHORT, GROUPS
from ..units import format_size

# Mid-light fills: dark text stays readable on them, on screen and on paper.
COLOURS = {
    "cuda_wheels": "#e8736c",
    "triton": "#f4a7a3",
    "torch": "#f5a65b",
    "python_packages": "#79a7d6",
    "model_files": "#b992c9",
    "caches": "#f1d66b",
    "build_toolchain": "#bf9f84",
    "system_packages": "#86c7bf",
    "other": "#c9c3bf",
    "hidden": "#a3a3a3",
    # audit categories
    "custom": "#79a7d6",
    "third-party": "#f5a65b",
    "official": "#86c7bf",
    "dangling": "#e8736c",
}
HIDDEN_TITLE = "hidden copies: bytes stored in a layer and overwritten or deleted by a later one"
WIDTH, HEIGHT = 600, 420
HEADER = 15  # px strip holding a cell's label above its nested children
CHAR_WIDTH = 6.2  # average glyph width of the 11 px sans-serif labels


@dataclass
class Node:
    label: str
    size: int
    key: str  # colour key: a GROUPS key, "hidden", or an audit category
    title: str = ""  # tooltip: a full path or a description
    files: int = 1
    children: list[Node] = field(default_factory=list)
    id: str = ""

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


# --- the tree of one image ------------------------------------------------------------------------------
def profile_tree(profile, *, min_share: float = 0.001, open_share: float = 0.005, max_children: int = 40) -> Node:
    """Files smaller than `min_share` of the image are summed into their directory; every level keeps
    at most `max_children` entries of at least that share and merges the rest into one "N more" leaf.
    Only entries of at least `open_share` can be opened (drawn as a view of their own). Hidden copies
    are one more group, so the root's size is the image's size."""
    threshold = max(1, int(profile.size * min_share))
    model_paths = {model.path[1:] for model in profile.models}
    model_repos = {model.path[1:]: model.repo for model in profile.models}
    memo: dict[str, str | None] = {}
    # Every file of one directory with one owner has the same group and unit, model files aside.
    places: dict[tuple, tuple[str, str, str]] = {}  # (owner, directory) -> (group, unit, unit title)
    small: dict[tuple[str, str, str, str], list[int]] = {}  # (group, unit, title, directory) -> [bytes, files]
    big: list[tuple[tuple[str, str, str, str], str, int]] = []
    owner_of, place_of, slot_of = profile.owners.get, places.get, small.get  # the loop runs once per file
    for path, size, _mode, _uid, _layer, kind in profile.files:
        if not size or kind != "f":
            continue
        rel = path[1:]
        directory, _, name = rel.rpartition("/")
        owner = owner_of(rel)
        if rel in model_paths:
            key = ("model_files", *_unit("model_files", owner, directory, model_repos.get(rel)), directory)
        else:
            place = place_of((owner, directory))
            if place is None:
                group = file_group(rel, owner, model_paths, memo)
                place = places[(owner, directory)] = (group, *_unit(group, owner, directory, None))
            key = (*place, directory)
        if size >= threshold:
            big.append((key, name, size))
            continue
        slot = slot_of(key)
        if slot is None:
            small[key] = [size, 1]
        else:
            slot[0] += size
            slot[1] += 1
    for copy in profile.wasted:
        directory, _, name = copy.path[1:].rpartition("/")
        top = bucket_of_dir(directory)
        key = ("hidden", top, f"hidden copies under {top}", directory)
        if copy.size >= threshold:
            big.append((key, f"{name} (layer {copy.layer}, {copy.reason})", copy.size))
        else:
            slot = small.setdefault(key, [0, 0])
            slot[0] += copy.size
            slot[1] += 1
    tree = _Groups(threshold, max(threshold, int(profile.size * open_share)))
    for (group, unit, title, directory), (size, count) in small.items():
        node = tree.place(group, unit, title, directory, size, count)
        node.small += size
        node.small_files += count
    for (group, unit, title, directory), name, size in big:
        tree.place(group, unit, title, directory, size, 1).files.append((name, size))
    root = Node(profile.ref, 0, "image", title=profile.ref)
    root.children = tree.nodes(max_children)
    root.size = sum(child.size for child in root.children)
    root.files = sum(child.files for child in root.children)
    number(root)
    return root


def _unit(group: str, owner: tuple[str, str] | None, directory: str, model_repo: str | None) -> tuple[str, str]:
    """(label, tooltip) of the second level a file counts in."""
    if owner is not None and group not in ("model_files", "caches", "other"):
        return owner[1], f"{'pip' if owner[0] == 'pip' else 'Debian'} package {owner[1]}"
    absolute = "/" + directory
    if group == "model_files":
        return (model_repo, f"model {model_repo}") if model_repo else (absolute, absolute)
    if group == "caches":
        cache = "/" + (cache_dir(directory) or directory)
        return cache, cache
    top = bucket_of_dir(directory)
    return top, top


class _Groups:
    """Group -> unit -> directory trees."""

    def __init__(self, threshold: int, opens: int):
        self.threshold, self.opens = threshold, opens
        self.units: dict[str, dict[str, _Dir]] = {}

    def place(self, group: str, unit: str, title: str, directory: str, size: int, count: int) -> _Dir:
        """The directory's node, with `size` bytes in `count` files added to it and its parents' totals."""
        units = self.units.get(group)
        if units is None:
            units = self.units[group] = {}
        root = units.get(unit)
        if root is None:
            root = units[unit] = _Dir(unit, "", title)
        return root.at(directory, size, count)

    def nodes(self, max_children: int) -> list[Node]:
        groups = []
        for key in (*GROUPS, "hidden"):
            units = self.units.get(key)
            if not units:
                continue
            children = [_prune(root.unit_node(key, self.threshold), self.threshold, self.opens, max_children)
                        for root in units.values()]
            size = sum(child.size for child in children)
            if size <= 0:
                continue
            title = GROUPS.get(key, HIDDEN_TITLE)
            if len(children) == 1 and children[0].children:  # one package (torch): open it at once
                title = f"{title}: {children[0].title}"
                children = children[0].children
            groups.append(Node(GROUP_SHORT[key], size, key, title=title, files=sum(child.files for child in children),
                               children=aggregate(children, self.threshold, max_children, key)))
        return sorted(groups, key=lambda node: -node.size)


class _Dir:
    """A directory while the tree is built: subdirectories, files kept one by one, small files summed,
    and the totals of everything below it."""

    __slots__ = ("count", "dirs", "files", "name", "path", "small", "small_files", "title", "total")

    def __init__(self, name: str, path: str, title: str = ""):
        self.name, self.path, self.title = name, path, title or path
        self.dirs: dict[str, _Dir] = {}
        self.files: list[tuple[str, int]] = []
        self.small = self.small_files = self.total = self.count = 0

    def at(self, relative: str, size: int, count: int) -> _Dir:
        here = self
        here.total += size
        here.count += count
        for part in relative.split("/") if relative else ():
            child = here.dirs.get(part)
            if child is None:
                child = here.dirs[part] = _Dir(part, f"{here.path}/{part}")
            here = child
            here.total += size
            here.count += count
        return here

    def node(self, key: str, threshold: int) -> Node:
        """Subdirectories below `threshold` bytes become leaves: they can't be opened or listed anyway."""
        children = [sub.node(key, threshold) if sub.total >= threshold else
                    Node(sub.name, sub.total, key, title=sub.path, files=sub.count) for sub in self.dirs.values()]
        children += [Node(name, size, key, title=f"{self.path}/{name}") for name, size in self.files]
        if self.small:
            noun = "file" if self.small_files == 1 else "files"
            children.append(Node(f"{self.small_files} small {noun}", self.small, key,
                                 title=f"{self.small_files} small {noun} in {self.path or '/'}", files=self.small_files))
        node = Node(self.name, self.total, key, title=self.title, files=self.count, children=children)
        # A directory holding one subdirectory and nothing else is one cell: "lib/python3.11".
        while len(node.children) == 1 and node.children[0].children:
            only = node.children[0]
            node = Node(f"{node.label}/{only.label}", node.size, key, title=only.title, files=node.files,
                        children=only.children)
        return node

    def unit_node(self, key: str, threshold: int) -> Node:
        """A unit keeps its own label; the directories all its files share are skipped."""
        node = self.node(key, threshold)
        node.label, node.title = self.name, self.title
        while len(node.children) == 1:
            only = node.children[0]
            node.children = only.children
            if not only.children:
                node.title = f"{self.title}: {only.title}"
        return node


def _prune(node: Node, threshold: int, opens: int, max_children: int) -> Node:
    if not node.children:
        return node
    if node.size < opens:
        node.children = []  # a leaf: too small to open
        return node
    node.children = aggregate([_prune(child, threshold, opens, max_children) for child in node.children],
                              threshold, max_children, node.key)
    return node


def aggregate(children: list[Node], threshold: int, max_children: int, key: str) -> list[Node]:
    """The largest children of at least `threshold` bytes (at most `max_children`), the rest as one leaf."""
    children = sorted((child for child in children if child.size > 0), key=lambda child: (-child.size, child.label))
    keep = [child for child in children[:max_children] if child.size >= threshold]
    rest = children[len(keep):]
    if len(rest) <= 1:
        return keep + rest
    size = sum(child.size for child in rest)
    files = sum(child.files for child in rest)
    names = ", ".join(child.label for child in rest[:5]) + (", ..." if len(rest) > 5 else "")
    return [*keep, Node(f"{len(rest)} more", size, key, title=f"{len(rest)} smaller entries: {names}", files=files)]


def number(root: Node) -> None:
    """Ids for the views: the walk order."""
    for index, node in enumerate(root.walk()):
        node.id = str(index)


# --- drawing --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class View:
    node: Node
    parent: str | None  # element id of the view one level up
    id: str
    svg: str


def render_views(root: Node, prefix: str, *, width: int = WIDTH, height: int = HEIGHT, label: str = "") -> list[View]:
    """One SVG per node with children, root first; element ids start with `prefix`."""
    views: list[View] = []
    queue: list[tuple[Node, str | None]] = [(root, None)]
    while queue:
        node, parent = queue.pop(0)
        view_id = f"{prefix}-v{node.id}"
        views.append(View(node, parent, view_id, _view_svg(node, view_id, parent, prefix, width, height, label)))
        queue.extend((child, view_id) for child in node.children if child.children)
    return views


def layout(nodes: list[Node], x: float, y: float, width: float, height: float) -> list[tuple[Node, dict]]:
    """Squarified rectangles (dicts with x, y, dx, dy) for nodes, largest first, areas in proportion to size."""
    nodes = sorted((node for node in nodes if node.size > 0), key=lambda node: -node.size)
    if not nodes or width <= 0 or height <= 0:
        return []
    sizes = squarify.normalize_sizes([node.size for node in nodes], width, height)
    return list(zip(nodes, squarify.squarify(sizes, x, y, width, height), strict=False))


def _view_svg(node: Node, view_id: str, parent: str | None, prefix: str, width: int, height: int, label: str) -> str:
    top = parent is None
    name = label if top and label else node.title or node.label
    parent_attr = "" if top else f' data-parent="{parent}" hidden'
    parts = [f'<svg class="treemap-view" id="{view_id}" data-bytes="{node.size}" data-label="{escape(node.label)}" '
             f'viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(name)}: {escape(format_size(node.size))}"{parent_attr}>']
    parts.extend(_cell(child, rect, prefix, depth=0) for child, rect in layout(node.children, 0, 0, width, height))
    parts.append("</svg>")
    return "".join(parts)


def _cell(node: Node, rect: dict, prefix: str, *, depth: int) -> str:
    x, y, w, h = rect["x"], rect["y"], rect["dx"], rect["dy"]
    opens = bool(node.children)
    target = f' data-view="{prefix}-v{node.id}" tabindex="0"' if opens else ""
    tip = f"{node.title or node.label}\n{format_size(node.size)}" + (f" in {node.files:,} files" if node.files > 1 else "")
    out = [f'<g class="cell{" opens" if opens else ""}"{target}><title>{escape(tip)}</title>'
           f'<rect class="d{depth}" data-key="{node.key}" data-bytes="{node.size}" x="{_n(x)}" y="{_n(y)}" '
           f'width="{_n(w)}" height="{_n(h)}" fill="{_fill(node.key, depth)}"/>']
    if depth == 0 and opens and w >= 30 and h >= 30:
        out.append(_label(node, x, y, w, HEADER, bold=True))
        inner = layout(node.children, x + 2, y + HEADER, w - 4, h - HEADER - 2)
        out.extend(_cell(child, child_rect, prefix, depth=1) for child, child_rect in inner)
    elif w >= 34 and h >= 14:
        out.append(_label(node, x, y, w, h, bold=depth == 0))
    out.append("</g>")
    return "".join(out)


def _label(node: Node, x: float, y: float, w: float, h: float, *, bold: bool) -> str:
    size = format_size(node.size)
    room = int((w - 6) / CHAR_WIDTH)
    first = _clip(f"{node.label} {size}" if h < 28 else node.label, room)
    if not first:
        return ""
    weight = ' class="b"' if bold else ""
    out = f'<text x="{_n(x + 3)}" y="{_n(y + 11)}"{weight}>{escape(first)}</text>'
    if h >= 28:
        out += f'<text x="{_n(x + 3)}" y="{_n(y + 24)}">{escape(_clip(size, room))}</text>'
    return out


def _clip(text: str, room: int) -> str:
    if room < 3:
        return ""
    return text if len(text) <= room else text[: room - 1] + "…"


def _fill(key: str, depth: int) -> str:
    return tint(COLOURS.get(key, COLOURS["other"]), 0.45 if depth else 0.0)


def tint(colour: str, amount: float) -> str:
    """`colour` mixed with white: 0 keeps it, 1 is white."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in (r, g, b))


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
