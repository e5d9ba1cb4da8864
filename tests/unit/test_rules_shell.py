"""What a RUN does: the tokenizer, wrappers, and pip/uv/apt option parsing that the rules share."""

from __future__ import annotations

import pytest

from buildopt.rules.shell import commands_of, package_command, pip_command, removes_apt_lists, split_commands


def test_split_commands_reads_comments_and_redirections():
    assert split_commands("# don't\npip install torch\n# it's fine\necho done") == [["pip", "install", "torch"], ["echo", "done"]]
    assert split_commands("pip install x  # trailing; comment\necho a#b") == [["pip", "install", "x"], ["echo", "a#b"]]
    assert split_commands("cmd 2>&1 | tee log && other &>/dev/null; bg & next") == [
        ["cmd", "2>&1"], ["tee", "log"], ["other", "&>/dev/null"], ["bg"], ["next"]]


def test_split_commands_quotes_and_escapes():
    assert split_commands("""echo "a \\"q\\" b" 'c'"d" e\\ f ''""") == [["echo", 'a "q" b', "cd", "e f", ""]]
    assert split_commands('echo "unclosed && pip install torch') == [["echo", '"unclosed'], ["pip", "install", "torch"]]
    assert split_commands("apt-get update \\\n && apt-get install -y x") == [["apt-get", "update"], ["apt-get", "install", "-y", "x"]]


def test_commands_of_unwraps():
    assert commands_of("sh -c 'pip install a && env X=1 sudo pip install b'") == [["pip", "install", "a"], ["pip", "install", "b"]]
    assert commands_of("DEBIAN_FRONTEND=noninteractive apt-get install -y x") == [["apt-get", "install", "-y", "x"]]
    assert commands_of("if [ -n \"$X\" ]; then pip install y; fi")[1] == ["pip", "install", "y"]


@pytest.mark.parametrize("argv, tool, sub, options, targets", [
    (["pip", "install", "--no-cache-dir", "-r", "r.txt", "torch"], "pip", "install", {"--no-cache-dir": [""], "--requirement": ["r.txt"]}, ["torch"]),
    (["python3", "-m", "pip", "--no-cache-dir", "install", "-U", "pip"], "pip", "install", {"--no-cache-dir": [""], "--upgrade": [""]}, ["pip"]),
    (["/opt/venv/bin/pip3.11", "install", "-e", ".[all]"], "pip", "install", {"--editable": [".[all]"]}, []),
    (["pip", "install", "-rreq.txt", "--index-url=https://x/cpu"], "pip", "install", {"--requirement": ["req.txt"], "--index-url": ["https://x/cpu"]}, []),
    (["uv", "--no-cache", "pip", "install", "--system", "flask"], "uv", "install", {"--no-cache": [""], "--system": [""]}, ["flask"]),
    (["uv", "sync", "--extra", "cpu", "--frozen"], "uv", "sync", {"--extra": ["cpu"], "--frozen": [""]}, []),
    (["pip", "uninstall", "-y", "torch"], "pip", "uninstall", {"-y": [""]}, ["torch"]),
])
def test_pip_command(argv, tool, sub, options, targets):
    call = pip_command(argv)
    assert (call.tool, call.subcommand, call.options, call.targets) == (tool, sub, options, targets)


@pytest.mark.parametrize("argv", [["pipx", "install", "x"], ["python", "app.py"], ["uv", "run", "x"], ["pip"], ["echo", "pip"]])
def test_not_pip(argv):
    assert pip_command(argv) is None


def test_package_commands():
    call = package_command(["apt-get", "-qq", "install", "-y", "-o", "APT::Install-Recommends=false", "gcc", "g++=4:12"])
    assert (call.action, call.packages, call.no_recommends) == ("install", ["gcc", "g++=4:12"], True)
    assert package_command(["apt-get", "install", "-oAPT::Install-Recommends=0", "x"]).no_recommends
    assert not package_command(["apt", "install", "-t", "bookworm-backports", "x"]).no_recommends
    assert package_command(["apt", "install", "-t", "bookworm-backports", "x"]).packages == ["x"]
    apk = package_command(["apk", "add", "--no-cache", "--virtual", ".deps", "gcc"])
    assert (apk.virtual, apk.packages) == (".deps", ["gcc"])
    assert package_command(["ls"]) is None


def test_removes_apt_lists():
    assert removes_apt_lists(["rm", "-rf", "/var/lib/apt/lists/*"])
    assert removes_apt_lists(["rm", "-rf", "/var/lib/apt/lists"])
    assert not removes_apt_lists(["rm", "-rf", "/var/cache/apt"])
