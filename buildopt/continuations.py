"""Join long continuation runs before BuildKit's parser sees them, so parsing stays linear in the file size.

BuildKit's parser appends each continuation line to the instruction's string (`line += continuationLine`),
which costs O(lines x length): one RUN of 120,000 continuation lines took 104 s. `compact` hands the parser
the same logical lines in fewer physical ones: each run of continuation lines is joined exactly as the parser
joins it (newline and escape character trimmed, comment and blank lines inside it dropped) into lines of up
to 60,000 bytes that still end in the escape character, under the parser's 64 KiB line limit. The parser
then builds the same instructions, with the same text, from a hundred or so appends for 5 MB; the line map
turns its line numbers back into the file's.

Heredoc bodies are copied untouched. Whether an instruction opens a heredoc is predicted here and checked
against the parser's result (`Compacted.matches`); when the two disagree, the caller parses the original text
instead. A byte-order mark, an invalid escape directive or a line near the 64 KiB limit leaves the text as it
is (the parser then reports what it reports on the file itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK_BYTES = 60_000  # UTF-8 bytes per joined line: the parser reads lines of up to 64 KiB
_LONGEST_LINE_BYTES = 60_000  # a line this long must meet the parser's limit as it is
MIN_RUN_LINES = 64  # shorter runs cost the parser nothing worth saving
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z", re.ASCII)
# What the parser's trimLeadingWhitespace strips: Go's unicode.IsSpace (str.lstrip() would also strip \x1c-\x1f).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_HEREDOC_INSTRUCTIONS = {"RUN", "COPY", "ADD"}


@dataclass(frozen=True)
class Compacted:
    text: str
    first: list[int]  # 1-based original line of each compacted line's start
    last: list[int]  # ... and of its end
    spans: list[tuple[int, int]]  # each instruction's predicted (start, end) in original lines

    def lines(self, start: int, end: int) -> tuple[int, int]:
        return self.first[start - 1], self.last[end - 1]

    def matches(self, commands) -> bool:
        """True when the parser found the instructions (and heredoc bodies) where they were predicted."""
        if len(commands) != len(self.spans):
            return False
        return all(self.lines(c.start_line, c.end_line) == span for c, span in zip(commands, self.spans, strict=True))


def compact(text: str, min_run_lines: int = MIN_RUN_LINES) -> Compacted | None:
    """The text with long continuation runs joined, or None when nothing needs it (or it can't be done safely)."""
    if "\n" not in text or text.startswith("\ufeff"):
        return None
    lines = text.split("\n")
    ends_with_newline = lines[-1] == ""
    if ends_with_newline:
        lines.pop()
    if any(_size(line) > _LONGEST_LINE_BYTES for line in lines if len(line) > _LONGEST_LINE_BYTES // 4):
        return None  # near the parser's line limit: the file must meet it as it is
    raw_lines = lines  # copied as they are (carriage returns included) wherever nothing is joined
    lines = [line.rstrip("\r") for line in lines]
    escape = _escape_token(lines)
    if escape is None:
        return None
    continuation = re.compile(rf"([^{re.escape(escape)}]){re.escape(escape)}[ \t]*\Z|^{re.escape(escape)}[ \t]*\Z")

    def trim(line: str) -> tuple[str, bool]:
        """The parser's trimContinuationCharacter: (line without the escape, whether the instruction ends)."""
        match = continuation.search(line)
        if match is None:
            return line, True
        return line[: match.start()] + (match.group(1) or ""), False

    out: list[str] = []
    first: list[int] = []
    last: list[int] = []
    spans: list[tuple[int, int]] = []
    changed = False

    def emit(text_line: str, start: int, end: int) -> None:
        out.append(text_line)
        first.append(start)
        last.append(end)

    count = len(lines)
    i = 0
    while i < count:
        raw = lines[i]
        processed = raw.lstrip(_GO_SPACE)
        if processed.startswith("#"):
            processed = ""
        i += 1
        start = i
        line, ended = trim(processed)
        if ended and line == "":
            emit(raw_lines[i - 1], i, i)
            continue
        # (line index, piece or None for a dropped comment/blank line) for each physical line of the instruction
        pieces: list[tuple[int, str | None]] = [(start, line)]
        while not ended and i < count:
            raw_next = lines[i]
            i += 1
            stripped = raw_next.lstrip(_GO_SPACE)
            if stripped.startswith("#") or stripped == "":
                pieces.append((i, None))
                continue
            piece, ended = trim(raw_next)
            pieces.append((i, piece))
        if len(pieces) >= min_run_lines and line.strip(_GO_SPACE) and line[0] not in _GO_SPACE:
            _emit_chunks(pieces, escape, ended, emit)
            changed = True
        else:
            for number in range(start, i + 1):
                emit(raw_lines[number - 1], number, number)
        logical = "".join(piece for _, piece in pieces if piece is not None)
        for name, chomp in _predicted_heredocs(logical):
            while i < count:
                body = lines[i]
                i += 1
                emit(raw_lines[i - 1], i, i)
                if (body.lstrip("\t") if chomp else body) == name:
                    break
        spans.append((start, i))
    if not changed:
        return None
    return Compacted("\n".join(out) + ("\n" if ends_with_newline else ""), first, last, spans)


def _emit_chunks(pieces: list[tuple[int, str | None]], escape: str, ended: bool, emit) -> None:
    """Join an instruction's pieces into lines of up to CHUNK_BYTES, each but the last ending in the escape."""
    chunk: list[str] = []
    size = 0
    chunk_start = pieces[0][0]
    for number, piece in pieces:
        if piece is None:
            continue
        piece_size = _size(piece)
        if chunk and size + piece_size > CHUNK_BYTES:
            emit("".join(chunk) + escape, chunk_start, number - 1)
            chunk, size, chunk_start = [], 0, number
        chunk.append(piece)
        size += piece_size
    # The last chunk ends the instruction as its last line did; a run cut off by the end of the file keeps its
    # escape, so a last chunk of blanks still counts (a blank line would be skipped).
    emit("".join(chunk) + ("" if ended else escape), chunk_start, pieces[-1][0])


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _escape_token(lines: list[str]) -> str | None:
    """The escape character from the parser directives at the top; None when the parser would reject them."""
    escape = "\\"
    seen: set[str] = set()
    for line in lines:
        match = _DIRECTIVE.match(line.lstrip(_GO_SPACE))
        if not match or match.group(1).lower() not in ("escape", "syntax"):
            break
        key = match.group(1).lower()
        if key in seen:
            return None
        seen.add(key)
        if key == "escape":
            if match.group(2) not in ("`", "\\"):
                return None
            escape = match.group(2)
    return escape


def _predicted_heredocs(logical: str) -> list[tuple[str, bool]]:
    """(terminator, chomp) of each heredoc a RUN/COPY/ADD opens, as far as a plain word split can tell; the
    parser's result is checked against this prediction."""
    if "<<" not in logical:
        return []
    words = logical.split()
    if words and words[0].upper() == "ONBUILD":
        words = words[1:]
    if not words or words[0].upper() not in _HEREDOC_INSTRUCTIONS:
        return []
    args = words[1:]
    while args and args[0].startswith("--"):
        args = args[1:]
    if args and args[0].startswith("["):
        return []  # JSON form: no heredocs (if it isn't valid JSON, the check catches it)
    found = []
    for word in args:
        match = _HEREDOC_WORD.match(word)
        if match and match.group(3):
            name = match.group(3).replace('"', "").replace("'", "").replace("\\", "")
            if name:
                found.append((name, match.group(2) == "-"))
    return found
