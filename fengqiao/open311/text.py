"""Plain text from what Open311 clients send (ADR 0014, amendment 2).

The standard says a description has no HTML, yet clients forward what their users typed into rich editors. Text
with markup is turned into plain text before anything is checked or stored: ``<script>``/``<style>`` blocks are
dropped whole, line-breaking tags (``<br>``, ``</p>``, ``</li>``, …) become line breaks, every other tag goes,
and the entities of the HTML are decoded; repeated until no tag is left (``&lt;b&gt;`` inside HTML is a tag once
decoded). Text without markup is left as typed (``1 < 2``, ``&amp;`` included). What still looks like a tag
after three rounds (e.g. an unfinished ``<b``) is refused: no markup is ever stored or echoed.
"""

import html
import re

from django.utils.html import strip_tags

# "<" followed by a letter, "/", "!" or "?": the start of a tag, a comment or a declaration.
MARKUP = re.compile(r"<[A-Za-z/!?]")
HIDDEN = re.compile(r"<(script|style)\b.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
BREAKS = re.compile(r"<br\s*/?>|</(p|div|li|tr|h[1-6])\s*>", re.IGNORECASE)
BLANK_LINES = re.compile(r"\n[ \t]*\n(\s*\n)+")
ROUNDS = 3


class MarkupLeft(ValueError):
    """Text whose markup could not be removed."""


def plain(value: str) -> str:
    """`value` as plain text (see the module); raises MarkupLeft when a tag cannot be removed."""
    if not value or not MARKUP.search(value):
        return value
    text = value
    for _round in range(ROUNDS):
        text = HIDDEN.sub("", text)
        text = BREAKS.sub("\n", text)
        text = html.unescape(strip_tags(text))
        if not MARKUP.search(text):
            return BLANK_LINES.sub("\n\n", text).strip()
    raise MarkupLeft(value)


def one_line(value: str) -> str:
    """Plain text on one line: every run of white space (line breaks included) becomes one space."""
    return " ".join(plain(value).split())
