"""The one shell model (buildopt.shell): the lexer, wrappers, and pip/uv/apt option parsing that rules, optimize
and audit share."""

from __future__ import annotations

import pytest

from buildopt.shell import (
    argument_roles,
    package_invocation,
    pip_invocation,
    removes_apt_lists,
    scan,
    simple_commands,
    split_commands,
)


def test_split_commands_reads_comments_and_redirections():
    assert split_commands("# don't\npip install torch\n# it's fine\necho done") == [["pip", "install", "torch"], ["echo", "done"]]
    assert split_commands("pip install x  # trailing; comment\necho a#b") == [["pip", "install", "x"], ["echo", "a#b"]]
    assert split_commands("cmd 2>&1 | tee log && other &>/dev/null; bg & next") == [
        ["cmd", "2>&1"], ["tee", "log"], ["other", "&>/dev/null"], ["bg"], ["next"]]


def test_split_commands_quotes_and_escapes():
    assert split_commands("""echo "a \\"q\\" b" 'c'"d" e\\ f ''""") == [["echo", 'a "q" b', "cd", "e f", ""]]
    assert split_commands('echo "unclosed && pip install torch') == [["echo", '"unclosed'], ["pip", "install", "torch"]]
    assert split_commands("apt-get update \\\n && apt-get install -y x") == [["apt-get", "update"], ["apt-get", "install", "-y", "x"]]


def test_simple_commands_unwrap():
    assert simple_commands("sh -c 'pip install a && env X=1 sudo pip install b'") == [["pip", "install", "a"], ["pip", "install", "b"]]
    assert simple_commands("DEBIAN_FRONTEND=noninteractive apt-get install -y x") == [["apt-get", "install", "-y", "x"]]
    assert simple_commands("if [ -n \"$X\" ]; then pip install y; fi")[1] == ["pip", "install", "y"]


@pytest.mark.parametrize("argv, tool, sub, options, targets", [
    (["pip", "install", "--no-cache-dir", "-r", "r.txt", "torch"], "pip", "install", {"--no-cache-dir": [""], "--requirement": ["r.txt"]}, ["torch"]),
    (["python3", "-m", "pip", "--no-cache-dir", "install", "-U", "pip"], "pip", "install", {"--no-cache-dir": [""], "--upgrade": [""]}, ["pip"]),
    (["/opt/venv/bin/pip3.11", "install", "-e", ".[all]"], "pip", "install", {"--editable": [".[all]"]}, []),
    (["pip", "install", "-rreq.txt", "--index-url=https://x/cpu"], "pip", "install", {"--requirement": ["req.txt"], "--index-url": ["https://x/cpu"]}, []),
    (["uv", "--no-cache", "pip", "install", "--system", "flask"], "uv", "install", {"--no-cache": [""], "--system": [""]}, ["flask"]),
    (["uv", "sync", "--extra", "cpu", "--frozen"], "uv", "sync", {"--extra": ["cpu"], "--frozen": [""]}, []),
    (["pip", "uninstall", "-y", "torch"], "pip", "uninstall", {"-y": [""]}, ["torch"]),
])
def test_pip_invocation(argv, tool, sub, options, targets):
    call = pip_invocation(argv)
    assert (call.tool, call.subcommand, call.options, call.targets) == (tool, sub, options, targets)


@pytest.mark.parametrize("argv", [["pipx", "install", "x"], ["python", "app.py"], ["uv", "run", "x"], ["pip"], ["echo", "pip"]])
def test_not_pip(argv):
    assert pip_invocation(argv) is None


def test_package_commands():
    call = package_invocation(["apt-get", "-qq", "install", "-y", "-o", "APT::Install-Recommends=false", "gcc", "g++=4:12"])
    assert (call.action, call.packages, call.no_recommends) == ("install", ["gcc", "g++=4:12"], True)
    assert package_invocation(["apt-get", "install", "-oAPT::Install-Recommends=0", "x"]).no_recommends
    assert not package_invocation(["apt", "install", "-t", "bookworm-backports", "x"]).no_recommends
    assert package_invocation(["apt", "install", "-t", "bookworm-backports", "x"]).packages == ["x"]
    apk = package_invocation(["apk", "add", "--no-cache", "--virtual", ".deps", "gcc"])
    assert (apk.virtual, apk.packages) == (".deps", ["gcc"])
    assert package_invocation(["ls"]) is None


def test_removes_apt_lists():
    assert removes_apt_lists(["rm", "-rf", "/var/lib/apt/lists/*"])
    assert removes_apt_lists(["rm", "-rf", "/var/lib/apt/lists"])
    assert not removes_apt_lists(["rm", "-rf", "/var/cache/apt"])


def test_option_values_are_never_packages():
    """The disagreement issue 17 found: rules read [torch, fastapi], optimize read [cpu, dev, torch, fastapi]."""
    call = pip_invocation(["uv", "pip", "install", "--torch-backend", "cpu", "--group", "dev", "torch", "fastapi"])
    assert call.targets == ["torch", "fastapi"]
    words = ["--torch-backend", "cpu", "--group", "dev", "torch", "-r", "r.txt", "-e", ".", "fastapi"]
    roles = argument_roles(words)
    assert [w for w, role in zip(words, roles, strict=True) if role is None] == ["torch", "fastapi"]
    assert roles[words.index(".")] == "--editable"
    apt = package_invocation(["apt-get", "-o", "Dpkg::Options::=--force-confold", "install", "-t", "bookworm-backports", "x"])
    assert (apt.action, apt.packages, apt.action_index) == ("install", ["x"], 3)


@pytest.mark.parametrize("argv, options, targets", [
    # uv spells pip's options in the plural: the files are requirement and constraint files, not packages.
    (["uv", "pip", "install", "--requirements", "r.txt", "--constraints", "c.txt", "flask"],
     {"--requirement": ["r.txt"], "--constraint": ["c.txt"]}, ["flask"]),
    (["uv", "--color", "never", "pip", "install", "flask"], {"--color": ["never"]}, ["flask"]),
    (["pip", "download", "-d", "/wheels", "torch"], {"--dest": ["/wheels"]}, ["torch"]),
    (["pip", "install", "--trusted-host", "pypi.org", "--src", "/tmp/src", "--log", "/tmp/pip.log", "-c", "c.txt", "x"],
     {"--trusted-host": ["pypi.org"], "--src": ["/tmp/src"], "--log": ["/tmp/pip.log"], "--constraint": ["c.txt"]}, ["x"]),
])
def test_more_option_values_are_never_packages(argv, options, targets):
    call = pip_invocation(argv)
    assert (call.options, call.targets) == (options, targets)


@pytest.mark.parametrize("argv, packages", [
    (["apk", "add", "--no-cache", "-X", "https://dl-cdn.alpinelinux.org/alpine/edge/testing", "py3-numpy"], ["py3-numpy"]),
    (["dnf", "install", "-y", "--enablerepo", "crb", "--releasever", "9", "gcc"], ["gcc"]),
    (["zypper", "-n", "install", "-r", "myrepo", "vim"], ["vim"]),
    (["apt-get", "install", "-y", "--target-release", "bookworm", "-c", "/etc/apt/x.conf", "nginx-light"], ["nginx-light"]),
])
def test_package_manager_option_values_are_never_packages(argv, packages):
    assert package_invocation(argv).packages == packages


# -- the rewriting view: raw words, offsets, joiners ------------------------------------------------------------
def test_scan_keeps_pipes_together_and_joiners():
    script = scan("curl -sSf https://sh.rustup.rs | sh -s -- -y && apt-get update; echo done")
    assert [unit.argv[0] for unit in script.units] == ["curl", "apt-get", "echo"]
    assert [unit.joiner for unit in script.units] == ["&&", ";", ""]
    assert len(script.units[0].commands) == 2 and not script.complex


def test_scan_raw_words_keep_variables_and_quotes():
    script = scan('pip install "uvicorn[standard]==0.54" -r ${REQS} $(cat extra.txt; echo x)')
    words = script.commands[0].words
    assert [word.raw for word in words] == ["pip", "install", '"uvicorn[standard]==0.54"', "-r", "${REQS}",
                                            "$(cat extra.txt; echo x)"]
    assert words[2].value == "uvicorn[standard]==0.54"


def test_scan_continuations_and_comment_lines():
    text = "apt-get update && \\\n    # a comment Docker removes\n    apt-get install -y gcc \\\n      libpq-dev"
    script = scan(text)
    assert [unit.argv for unit in script.units] == [["apt-get", "update"], ["apt-get", "install", "-y", "gcc", "libpq-dev"]]
    assert not script.complex
    # offsets point into the source, so in-place edits land on the right word
    install = script.commands[1].words[1]
    assert text[install.start:install.end] == "install"
    assert split_commands(text) == [["apt-get", "update"], ["apt-get", "install", "-y", "gcc", "libpq-dev"]]


@pytest.mark.parametrize("text", [
    "if [ -f x ]; then pip install x; fi",
    "(cd /x && make)",
    "pip install x # trailing comment",
    "cat <<EOF > f",
    "pip install x &&",
])
def test_scan_marks_what_it_cannot_rewrite(text):
    assert scan(text).complex


def test_scan_env_prefix_and_redirects():
    script = scan("DEBIAN_FRONTEND=noninteractive apt-get install -y curl > /dev/null 2>&1")
    assert script.commands[0].argv[:3] == ["apt-get", "install", "-y"]
    assert not script.complex


def test_one_lexer_gives_both_views():
    """The analysis view (argvs) is the rewriting view's values, minus leading keywords: one pass, not two splitters."""
    text = "if [ -n \"$X\" ]; then pip install 'a b' ; fi && echo 2>&1 | tee log"
    script = scan(text)
    assert script.argvs == [["[", "-n", "$X", "]"], ["pip", "install", "a b"], ["fi"], ["echo", "2>&1"], ["tee", "log"]]
    assert [command.values for command in script.commands][1] == ["then", "pip", "install", "a b"]
    assert scan(text) is script  # cached: every stage asking about this RUN gets the same object


def test_split_commands_tolerate_unclosed_quotes_and_drop_keywords():
    assert split_commands("apt-get update && apt-get install -y a || true; echo 'x y' | tee f") == [
        ["apt-get", "update"], ["apt-get", "install", "-y", "a"], ["true"], ["echo", "x y"], ["tee", "f"]]
    assert split_commands('echo "unclosed && pip install torch')[-1][:2] == ["pip", "install"]
    assert split_commands("if [ -f x ]; then pip install y; fi")[1] == ["pip", "install", "y"]
