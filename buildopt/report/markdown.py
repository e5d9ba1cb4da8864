"""The one escape for text that goes into markdown: Dockerfile paths, package names, image tags, build logs,
trivy titles and everything read back from a report or an untrusted artifact.

Every markdown renderer (analyze, compare and the PR comment, diff, audit) passes untrusted text through
`escape`, so a string is made inert the same way whichever command rendered it.
"""

from __future__ import annotations

import re

MAX_CHARS = 4000  # one string; a comment holds at most 65,536 characters in all
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: object, *, code: bool = False) -> str:
    """Make `text` inert in GitHub-flavoured markdown.

    Always: control and bidi characters dropped, tabs made spaces, at most MAX_CHARS characters, backticks
    made quotes (they could close a code span or fence), `@` followed by a word joiner (no mentions).
    In running text and table cells (`code=False`) also: `\\` and `|` backslash-escaped, `<` and `>` as
    entities (no raw HTML), inline links and images broken up, newlines made spaces.
    `code=True` is for lines inside a ``` fence the caller writes: there markdown and HTML are shown as
    text, so only what could end the fence is changed.
    """
    text = _CONTROL.sub("", str(text).replace("\t", " "))[:MAX_CHARS]
    text = text.replace("`", "'").replace("@", "@\u2060")
    if code:
        return text
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("](", "] (").replace("![", "! [").replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
