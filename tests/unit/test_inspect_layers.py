"""Layer stacking and waste on synthetic layers: overwrite, whiteout, opaque dir, dir replaced, hardlinks.

Waste is every hidden copy, counted once (dive counts every copy of a path seen twice, its #684,
and only matches by path).
"""

from __future__ import annotations

from buildopt.inspect.layers import (
    DIR,
    REG,
    SYMLINK,
    LayerBuilder,
    merge_layers,
    normalize,
)


def layer(files: dict[str, int] | None = None, *, dirs=(), whiteouts=(), opaques=(), links=None, symlinks=(), uid=0):
    builder = LayerBuilder("test")
    for path in dirs:
        builder.add(path, DIR, 0, 0o755, uid)
    for path, size in (files or {}).items():
        builder.add(path, REG, size, 0o644, uid)
    for path in symlinks:
        builder.add(path, SYMLINK, 0, 0o777, uid)
    for path, target in (links or {}).items():
        builder.add_hardlink(path, target, 0o644, uid)
    for path in whiteouts:
        builder.whiteout(path)
    for path in opaques:
        builder.opaque(path)
    return builder.finish()


def wasted_set(merged):
    return {(path, size, layer_index, hidden_by, reason) for path, size, layer_index, hidden_by, reason in merged.wasted}


def check_invariant(merged):
    assert sum(merged.layer_sizes) - merged.visible_size == sum(merged.layer_wasted)
    assert sum(copy[1] for copy in merged.wasted) == sum(merged.layer_wasted)


def test_overwritten_copies_count_once_each_and_final_copy_is_not_waste():
    merged = merge_layers([
        layer({"app/model.bin": 1000}, dirs=["app"]),
        layer({"app/model.bin": 1200}),
        layer({"app/model.bin": 900}),
    ])
    assert wasted_set(merged) == {("app/model.bin", 1000, 0, 1, "overwritten"), ("app/model.bin", 1200, 1, 2, "overwritten")}
    assert merged.final["app/model.bin"][1:2] == (900,)
    assert merged.visible_size == 900
    assert merged.layer_wasted == [1000, 1200, 0]
    check_invariant(merged)


def test_whiteout_deletes_a_file_and_a_directory_subtree():
    merged = merge_layers([
        layer({"var/cache/apt/a.deb": 500, "var/cache/apt/sub/b.deb": 300, "var/keep": 10},
              dirs=["var", "var/cache", "var/cache/apt", "var/cache/apt/sub"]),
        layer({"tmp/x": 70}, dirs=["tmp"]),
        layer(whiteouts=["var/cache/apt", "tmp/x"]),
    ])
    assert wasted_set(merged) == {
        ("var/cache/apt/a.deb", 500, 0, 2, "deleted"),
        ("var/cache/apt/sub/b.deb", 300, 0, 2, "deleted"),
        ("tmp/x", 70, 1, 2, "deleted"),
    }
    assert "var/cache/apt" not in merged.final and "var/cache" in merged.final
    assert merged.visible_size == 10
    check_invariant(merged)


def test_whiteout_of_a_sibling_prefix_leaves_other_names_alone():
    merged = merge_layers([
        layer({"a/b.txt": 2, "a/b/c": 4, "a/bc": 8, "a/b0": 16}, dirs=["a", "a/b"]),
        layer(whiteouts=["a/b"]),
    ])
    # "a/b.txt" sorts before "a/b/" and "a/b0" after it: only the subtree goes.
    assert wasted_set(merged) == {("a/b/c", 4, 0, 1, "deleted")}
    assert set(merged.final) == {"a", "a/b.txt", "a/bc", "a/b0"}


def test_opaque_dir_hides_lower_contents_but_keeps_its_own():
    merged = merge_layers([
        layer({"data/sub/old.bin": 5000, "data/other": 1}, dirs=["data", "data/sub"]),
        layer({"data/sub/new.txt": 3}, dirs=["data", "data/sub"], opaques=["data/sub"]),
    ])
    assert wasted_set(merged) == {("data/sub/old.bin", 5000, 0, 1, "deleted")}
    assert "data/sub/new.txt" in merged.final and "data/other" in merged.final
    check_invariant(merged)


def test_directory_replaced_by_a_file_hides_its_subtree():
    merged = merge_layers([
        layer({"opt/tool/bin/x": 400, "opt/tool/lib/y": 600}, dirs=["opt", "opt/tool", "opt/tool/bin", "opt/tool/lib"]),
        layer(symlinks=["opt/tool"]),
    ])
    assert wasted_set(merged) == {("opt/tool/bin/x", 400, 0, 1, "replaced"), ("opt/tool/lib/y", 600, 0, 1, "replaced")}
    assert merged.final["opt/tool"][0] == SYMLINK
    check_invariant(merged)


def test_chmod_layer_is_a_full_copy():
    merged = merge_layers([layer({"app/big": 10_000}), layer({"app/big": 10_000}, uid=1000)])
    assert wasted_set(merged) == {("app/big", 10_000, 0, 1, "overwritten")}
    assert merged.final["app/big"][3] == 1000


def test_hardlinks_are_charged_once_to_the_smallest_name_whatever_the_order():
    # Tar order: the link target comes first, whatever its name.
    merged = merge_layers([layer({"usr/bin/perl5.36": 4000}, links={"usr/bin/perl": "usr/bin/perl5.36"})])
    assert merged.final["usr/bin/perl"][1] == 4000
    assert merged.final["usr/bin/perl5.36"][1] == 0
    assert merged.layer_sizes == [4000] and merged.visible_size == 4000


def test_deleting_one_name_of_a_hardlinked_file_is_not_waste():
    merged = merge_layers([
        layer({"data/a.bin": 10_000}, links={"data/hl.bin": "data/a.bin"}),
        layer(whiteouts=["data/a.bin"]),
    ])
    assert merged.wasted == []
    assert merged.final["data/hl.bin"][1] == 10_000
    assert merged.visible_size == 10_000
    check_invariant(merged)


def test_deleting_every_name_of_a_hardlinked_file_wastes_its_bytes_once():
    merged = merge_layers([
        layer({"data/a.bin": 10_000}, links={"data/hl.bin": "data/a.bin"}),
        layer(whiteouts=["data/a.bin", "data/hl.bin"]),
    ])
    assert sum(copy[1] for copy in merged.wasted) == 10_000
    assert merged.visible_size == 0
    check_invariant(merged)


def test_same_layer_entries_survive_their_own_whiteout_processing():
    # `rm -rf /app && mkdir /app && touch /app/x` in one RUN: opaque dir plus new content.
    merged = merge_layers([
        layer({"app/old": 100}, dirs=["app"]),
        layer({"app/x": 1}, dirs=["app"], opaques=["app"]),
    ])
    assert set(merged.final) == {"app", "app/x"}
    assert wasted_set(merged) == {("app/old", 100, 0, 1, "deleted")}


def test_normalize_member_names():
    assert normalize("./usr/bin/") == "usr/bin"
    assert normalize("/etc/passwd") == "etc/passwd"
    assert normalize("./") == "" and normalize(".") == ""
