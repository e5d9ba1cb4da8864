"""Renders DOT source to SVG with the system's Graphviz."""

import subprocess


def render(source: str, fmt: str = "svg") -> bytes:
    done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True, check=True, timeout=30)
    return done.stdout


if __name__ == "__main__":
    svg = render("digraph { api -> worker -> db }")
    assert b"<svg" in svg
    print(len(svg))
