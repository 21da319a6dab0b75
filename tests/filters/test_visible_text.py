"""filters/visible_text.py: the start of a page's visible text, from a linear scan of its tags."""
from __future__ import annotations

from curate.filters.visible_text import visible_prefix


def test_text_between_tags_is_kept_and_what_a_browser_hides_is_not():
    page = ("<!DOCTYPE html><html><head><title>The title</title><style>body { margin: 0 }</style>"
            "<script type='text/javascript'>if (a < b) { document.write('<p>no</p>'); }</script></head>"
            "<body><!-- a <p>comment</p> --><noscript>Enable scripts</noscript><svg><text>a chart</text></svg>"
            "<nav><a href='/'>Home</a></nav><p>First   paragraph,\n  with <b>bold</b> words.</p>"
            "<textarea>typed</textarea><select><option>one</option></select><p>Second &amp; last&#33;</p>"
            "</body></html>")
    assert visible_prefix(page, 1000) == "Home First paragraph, with bold words. Second & last!"


def test_closing_tags_of_hidden_elements_match_whatever_their_case_and_spacing():
    page = "<SCRIPT>x = '</scriptx>'</Script >shown<STYLE>p{}</style\n>too"
    assert visible_prefix(page, 100) == "shown too"


def test_the_scan_stops_once_it_has_enough_and_reads_on_past_whitespace():
    words = " ".join(f"w{i}" for i in range(2000))
    page = "".join(f"<p>{w}</p>" for w in words.split())
    short = visible_prefix(page, 50)
    assert 50 <= len(short) <= 100 and words.startswith(short)  # its runs counted without the spaces between
    spaced = "<p>" + "a" + " " * 5000 + "b</p><p>" + "c " * 100 + "</p>"
    assert visible_prefix(spaced, 20).startswith("a b c c c")  # 5,000 blanks counted, collapsed, then read on
    assert len(visible_prefix(spaced, 20)) >= 20


def test_unclosed_tags_comments_and_hidden_elements_end_the_text():
    assert visible_prefix("before <p class='x' and never closed", 100) == "before"
    assert visible_prefix("before <!-- a comment that never ends <p>hidden</p>", 100) == "before"
    assert visible_prefix("before <script>var a = '<p>hidden</p>';", 100) == "before"
    assert visible_prefix("", 100) == "" and visible_prefix("<html><body></body></html>", 100) == ""


def test_hostile_pages_are_read_in_one_pass():
    # each would make a search restarted at every "<" quadratic: the scan ends at the first that cannot close
    assert visible_prefix("x" + "<" * 200_000, 100) == "x"
    assert visible_prefix("x" + "<script>" * 50_000, 100) == "x"
    assert visible_prefix("x" + "<!--" * 50_000, 100) == "x"
    assert visible_prefix("<b>" * 100_000 + "y", 100) == "y"
