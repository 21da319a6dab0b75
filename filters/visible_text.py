"""The start of a page's visible text, found by a scan of its tags: the evidence of `lang_precheck`'s language guess.

A language guess needs a thousand characters of the page's own words, not its structure: this scan walks the decoded
page from tag to tag, keeps the text between tags, skips what a browser does not show as text (comments, and the
contents of `script`, `style`, `noscript`, `template`, `title`, `svg`, `math`, form fields and embedded frames and
objects, as resiliparse's visible text leaves them out with lang_precheck's settings) and stops as soon as it has
enough. It builds no tree and reads no more of the page than it needs (on the 990 evaluation pages, a third of
resiliparse's whole-page parse), and it is linear in the page: every search starts where the last one ended, and a tag
or comment that never closes ends the scan.

Adjacent runs of text are joined with a space, so `foo<b>bar</b>` reads `foo bar`: the language model does not care,
and a word cut in two costs nothing where block tags, which separate words, are the common case. Character
references are decoded (`&amp;` → `&`); whitespace is collapsed to single spaces.
"""
from __future__ import annotations

import html as html_lib
import re

HIDDEN = frozenset({"script", "style", "noscript", "template", "title", "svg", "math", "textarea", "select", "iframe",
                    "object"})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9:-]*")
_CLOSING = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in HIDDEN}
_SPACE = re.compile(r"\s+")


def visible_prefix(page: str, chars: int) -> str:
    """At least the first `chars` characters of `page`'s visible text (all of it when it has fewer), whitespace
    collapsed; a little more when the last run of text read goes on past them."""
    parts: list[str] = []
    pos, end, read, want = 0, len(page), 0, chars
    find = page.find
    while True:
        while pos < end and read < want:
            lt = find("<", pos)
            if lt < 0:
                lt = end
            if lt > pos:
                run = page[pos:lt]
                if not run.isspace():
                    parts.append(run)
                    read += len(run)
            if lt >= end:
                pos = end
                break
            if page.startswith("<!--", lt):
                close = find("-->", lt + 4)
                pos = end if close < 0 else close + 3
                continue
            gt = find(">", lt + 1)
            if gt < 0:  # an unclosed tag: the rest is not text a browser shows
                pos = end
                break
            pos = gt + 1
            name = _NAME.match(page, lt + 1)
            if name is not None and (hidden := name.group().lower()) in HIDDEN and page[gt - 1] != "/":
                closing = _CLOSING[hidden].search(page, pos)
                pos = end if closing is None else closing.start()  # the closing tag is read as a tag next
        text = _SPACE.sub(" ", html_lib.unescape(" ".join(parts))).strip()
        if len(text) >= chars or pos >= end:
            return text
        want = read + chars  # whitespace inside the runs made the text shorter than counted: read on
