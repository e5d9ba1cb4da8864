"""Package parsing: dpkg status and .list files, dist-info RECORD (any site dir, odd paths), egg-info,
torch's version.py, /etc/passwd. Sizes come from the final filesystem, never from the metadata."""

from __future__ import annotations

from buildopt.inspect.packages import (
    os_release,
    parse_dpkg_status,
    passwd_uids,
    scan_packages,
    torch_build,
)

SITE = "opt/venv/lib/python3.11/site-packages"


def final_of(files: dict[str, int]) -> dict[str, tuple]:
    return {path: ("f", size, 0o644, 0, 0) for path, size in files.items()}


def test_dpkg_status_keeps_installed_packages_and_folds_continuations():
    text = (
        "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nInstalled-Size: 7164\n"
        "Description: GNU Bourne Again SHell\n Bash is an sh-compatible command language interpreter.\n"
        "Conffiles:\n /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d\n"
        "\n"
        "Package: removed-one\nStatus: deinstall ok config-files\nVersion: 1\n"
        "\n"
        "Package: half\nStatus: install ok half-configured\nVersion: 2\n"
    )
    stanzas = parse_dpkg_status(text)
    assert [s["Package"] for s in stanzas] == ["bash"]
    assert stanzas[0]["Installed-Size"] == "7164"
    assert "Conffiles" in stanzas[0] and "/etc/bash.bashrc" not in stanzas[0]


def test_deb_size_sums_present_files_and_falls_back_to_installed_size():
    status = (
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.36\nInstalled-Size: 100\n\n"
        "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a\nInstalled-Size: 3\n"
    )
    contents = {
        "var/lib/dpkg/status": status.encode(),
        # a doc file excluded by dpkg path-exclude (listed, absent) and a directory entry
        "var/lib/dpkg/info/libc6:amd64.list": b"/.\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n"
                                              b"/usr/share/doc/libc6/changelog.gz\n",
    }
    final = final_of({"lib/x86_64-linux-gnu/libc.so.6": 2_000_000})
    final["lib/x86_64-linux-gnu"] = ("d", 0, 0o755, 0, 0)
    scan = scan_packages(contents, final)
    libc = next(p for p in scan.packages if p.name == "libc6")
    tz = next(p for p in scan.packages if p.name == "tzdata")
    assert (libc.size, libc.files, libc.installed_size) == (2_000_000, 1, 102_400)
    assert (tz.size, tz.files) == (3 * 1024, 0)  # no .list: Installed-Size is all there is
    assert scan.owners["lib/x86_64-linux-gnu/libc.so.6"] == ("deb", "libc6")


def test_distroless_status_d():
    contents = {"var/lib/dpkg/status.d/base": b"Package: base-files\nVersion: 12\nInstalled-Size: 1\n"}
    scan = scan_packages(contents, {})
    assert [(p.name, p.version) for p in scan.packages] == [("base-files", "12")]


def test_record_paths_resolve_against_their_site_dir_and_count_only_present_files():
    record = (
        "Nvidia_Cublas_CU12/__init__.py,,\n"
        "nvidia/cublas/lib/libcublas.so.12,sha256=abc,4096\n"
        "nvidia_cublas_cu12-12.1.3.1.dist-info/RECORD,,\n"
        "nvidia/cublas/__pycache__/__init__.cpython-311.pyc,,\n"
        "../../../bin/cublas-tool,sha256=x,10\n"
        "\"nvidia/odd,name.txt\",sha256=q,3\n"
        "nvidia/cublas/lib/libcublas.so.12,sha256=abc,4096\n"  # listed twice: counted once
    )
    meta = f"{SITE}/nvidia_cublas_cu12-12.1.3.1.dist-info"
    contents = {f"{meta}/RECORD": record.encode()}
    final = final_of({
        f"{SITE}/nvidia/cublas/lib/libcublas.so.12": 4096,
        f"{meta}/RECORD": len(record),
        "opt/venv/bin/cublas-tool": 10,
        f"{SITE}/nvidia/odd,name.txt": 3,
        # the .pyc was deleted by a later layer: not in final, not counted
    })
    scan = scan_packages(contents, final)
    [package] = scan.packages
    assert (package.manager, package.name, package.version) == ("pip", "nvidia-cublas-cu12", "12.1.3.1")
    assert package.size == 4096 + len(record) + 10 + 3 and package.files == 4
    assert package.location == "/" + SITE
    assert scan.owners["opt/venv/bin/cublas-tool"] == ("pip", "nvidia-cublas-cu12")


def test_system_dist_packages_and_egg_info_are_packages_too():
    contents = {
        "usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD": b"six.py,,\n",
        "usr/lib/python3/dist-packages/legacy-0.3-py3.11.egg-info/installed-files.txt": b"../legacy/__init__.py\nPKG-INFO\n",
        "srv/app/not-a-site-dir/x-1.0.dist-info/RECORD": b"x.py,,\n",
    }
    final = final_of({
        "usr/lib/python3/dist-packages/six.py": 34_000,
        "usr/lib/python3/dist-packages/legacy/__init__.py": 12,
        "usr/lib/python3/dist-packages/legacy-0.3-py3.11.egg-info/PKG-INFO": 200,
        "srv/app/not-a-site-dir/x.py": 1,
    })
    packages = {p.name: p for p in scan_packages(contents, final).packages}
    assert set(packages) == {"six", "legacy"}
    assert packages["six"].size == 34_000
    assert (packages["legacy"].version, packages["legacy"].size) == ("0.3", 212)


def test_torch_build_variants():
    cuda = b"__version__ = '2.13.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\nhip: Optional[str] = None\n"
    cpu = b"__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\nhip: Optional[str] = None\n"
    path = f"{SITE}/torch/version.py"
    assert torch_build({path: cuda}) == ("2.13.0+cu130", "cuda", "13.0")
    assert torch_build({path: cpu}) == ("2.13.0+cpu", "cpu", None)
    assert torch_build({}) == (None, None, None)


def test_passwd_and_os_release():
    contents = {"etc/passwd": b"root:x:0:0:root:/root:/bin/bash\napp:x:10001:10001::/home/app:/bin/sh\n",
                "usr/lib/os-release": b'NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'}
    assert passwd_uids(contents) == {"root": 0, "app": 10001}
    assert os_release(contents) == "Debian GNU/Linux 12 (bookworm)"
