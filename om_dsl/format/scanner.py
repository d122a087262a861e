"""A small scanner of .om source text: code tokens and comments, with offsets.

The parser drops comments (`%ignore COMMENT`), so the formatter finds them
itself. The scanner knows just enough of the lexical grammar to never mistake
a `#` inside a string for a comment, and to cut the text into the same tokens
the parser sees (so a token's neighbours are the parser's neighbours): names
and keywords, numbers, decimals, dates, durations, strings, and punctuation
(`->`, `..`, `==`, `!=`, `<=`, `>=` are one token each).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

import attrs

_WORD = re.compile(r"[A-Za-z0-9_]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
_PUNCT2 = ("->", "..", "==", "!=", "<=", ">=")


@attrs.frozen
class Token:
    start: int
    end: int
    text: str


@attrs.frozen
class Comment:
    """`# ...` up to the end of its line (trailing spaces excluded from `text`)."""

    start: int
    end: int
    text: str
    line: int  # 1-based
    own_line: bool  # nothing but spaces before it on its line


@attrs.frozen
class Scan:
    text: str
    tokens: tuple[Token, ...]
    comments: tuple[Comment, ...]
    starts: tuple[int, ...] = attrs.field(init=False)
    ends: tuple[int, ...] = attrs.field(init=False)
    comment_ends: tuple[int, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "starts", tuple(t.start for t in self.tokens))
        object.__setattr__(self, "ends", tuple(t.end for t in self.tokens))
        object.__setattr__(self, "comment_ends", tuple(c.end for c in self.comments))

    def index_from(self, offset: int) -> int:
        """The index of the first token that starts at or after `offset` (len(tokens) if none)."""
        return bisect_left(self.starts, offset)

    def index_before(self, offset: int) -> int:
        """The index of the last token that ends at or before `offset` (-1 if none)."""
        return bisect_right(self.ends, offset) - 1

    def find(self, offset: int, text: str) -> Token:
        """The first `text` token at or after `offset`."""
        for tok in self.tokens[self.index_from(offset) :]:
            if tok.text == text:
                return tok
        raise ValueError(f"no `{text}` after offset {offset}")

    def keyword_before(self, offset: int, words: tuple[str, ...]) -> int:
        """The start of the keyword that introduces the value at `offset`.

        Opening parentheses between the keyword and the value are skipped
        (`when (a or b)`); when no keyword is found the value's own start is
        returned.
        """
        i = self.index_before(offset)
        while i >= 0 and self.tokens[i].text == "(":
            i -= 1
        if i >= 0 and self.tokens[i].text in words:
            return self.tokens[i].start
        return offset

    def previous_end(self, offset: int) -> int | None:
        """Where the nearest code token or comment before `offset` ends (None: nothing before)."""
        i = self.index_before(offset)
        best = self.tokens[i].end if i >= 0 else None
        j = bisect_right(self.comment_ends, offset) - 1
        if j >= 0 and (best is None or self.comments[j].end > best):
            best = self.comments[j].end
        return best

    def blank_before(self, offset: int) -> bool:
        """Whether a blank line separates `offset` from the code or comment before it."""
        prev = self.previous_end(offset)
        if prev is None:
            return False
        return self.text.count("\n", prev, offset) >= 2


def scan(text: str) -> Scan:
    tokens: list[Token] = []
    comments: list[Comment] = []
    line = 1
    line_has_code = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            line_has_code = False
            i += 1
        elif ch in " \t\r\f":
            i += 1
        elif ch == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            comments.append(Comment(i, end, text[i:end].rstrip(), line, not line_has_code))
            i = end
        elif ch == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" and j + 1 < n and text[j + 1] != "\n" else 1
            end = j + 1 if j < n and text[j] == '"' else j
            tokens.append(Token(i, end, text[i:end]))
            line_has_code = True
            i = end
        else:
            m = _DATE.match(text, i) or _DECIMAL.match(text, i) or _WORD.match(text, i)
            if m:
                end = m.end()
            elif text.startswith(_PUNCT2, i):
                end = i + 2
            else:
                end = i + 1
            tokens.append(Token(i, end, text[i:end]))
            line_has_code = True
            i = end
    return Scan(text, tuple(tokens), tuple(comments))
