"""The byte-cost table: each figure traceable to its source, apt sets counted without double counting."""

from __future__ import annotations

from buildopt.estimates import (
    ALL_FIGURES,
    CUDA_TORCH,
    apt_data,
    apt_packages_estimate,
    apt_set_kib,
    measured_set_for,
    recommends_estimate,
)


def test_cuda_torch_is_the_measured_difference():
    # research/measure-torch.md, 1b: orig 6,228,326,787 B vs orig-cpu 2,202,773,309 B.
    assert CUDA_TORCH.bytes == 4_025_553_478 and CUDA_TORCH.basis == "measured-image"
    assert CUDA_TORCH.describe() == "~4.03 GB, measured"


def test_every_fixed_figure_names_a_basis_and_source():
    for key, estimate in ALL_FIGURES.items():
        assert estimate.bytes > 0, key
        assert estimate.basis in {"measured-image", "audit", "estimate", "default"}, key
        assert estimate.source, key


def test_apt_measurements_file():
    data = apt_data()
    assert data["debian"].startswith("12.") and data["unit"].startswith("KiB")
    # Totals printed by scripts/measure-apt-sizes.sh (2026-11-22) for two sets, with and without recommends.
    assert (apt_set_kib("gcc g++", True), apt_set_kib("gcc g++", False)) == (308_681, 252_396)
    assert (apt_set_kib("libreoffice", True), apt_set_kib("libreoffice", False)) == (2_035_257, 505_954)
    for name, lists in data["sets"].items():
        assert set(lists["no_recommends"]) <= set(lists["recommends"]), name
        assert all(package in data["sizes"] for package in lists["recommends"]), name


def test_package_names_map_to_measured_sets():
    assert measured_set_for("gcc-12") == "gcc g++" and measured_set_for("g++") == "gcc g++"
    assert measured_set_for("libreoffice-writer") == "libreoffice-core" and measured_set_for("libreoffice") == "libreoffice"
    assert measured_set_for("openjdk-17-jre-headless") == "default-jre-headless"
    assert measured_set_for("rustc=1.63") == "cargo rustc"
    assert measured_set_for("libmagic1") is None


def test_shared_dependencies_are_counted_once():
    both = apt_packages_estimate(["build-essential", "gcc", "g++"], recommends=True)
    assert both.bytes == apt_set_kib("build-essential", True) * 1024  # gcc/g++ are inside build-essential
    assert both.basis == "measured-apt"
    separate = apt_set_kib("git", False) + apt_set_kib("cmake", False)
    assert apt_packages_estimate(["git", "cmake"], recommends=False).bytes <= separate * 1024
    assert apt_packages_estimate(["libmagic1"], recommends=True) is None


def test_recommends_saving():
    assert recommends_estimate(["gcc", "g++"]).bytes == (308_681 - 252_396) * 1024
    assert recommends_estimate(["libmagic1"]) is None
