"""url_filter: hosts match themselves and their subdomains only, UT1 categories name the reason, URL prefixes,
substrings, regexes, FineWeb's banned words, and the allow list overriding everything."""
from __future__ import annotations

import os
import threading

import pyarrow as pa
import pytest

from curate.filters.urls import HashIndex, host_key, suffixes, url_key
from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.check import check
from curate.stages.url_filter import UrlFilter, UrlFilterParams


def decide(pages: list[str | None], **params) -> list[str | None]:
    stage = UrlFilter(UrlFilterParams(**params))
    stage.setup()
    out = stage.process(pa.RecordBatch.from_pydict({"url": pa.array(pages, pa.string())}))
    return out.column("reject_reason").to_pylist()


@pytest.fixture
def ut1(tmp_path):
    """A UT1-layout folder: categories with domains and urls files (comments, wildcards, blank lines as in UT1)."""
    for category, domains, urls in [("adult", "# adult sites\nporn.example\n\n*.cams.example\n", "site.org/members\n"),
                                    ("gambling", "casino.example\nporn.example\n", None),
                                    ("empty", None, None)]:
        folder = tmp_path / "blacklists" / category
        folder.mkdir(parents=True)
        if domains:
            (folder / "domains").write_text(domains)
        if urls:
            (folder / "urls").write_text(urls)
    return tmp_path / "blacklists"


def test_a_host_matches_itself_and_subdomains_never_look_alikes():
    urls = ["https://example.com/", "http://WWW.Example.COM:8080/a?b", "https://a.b.example.com./x",
            "https://notexample.com/", "https://example.com.evil.net/", "https://example.co/", "https://examplecom/",
            "https://user:pw@example.com/", "http://[2001:db8::1]/", None, "not a url"]
    assert decide(urls, domains=["Example.com"]) == [
        "domain", "domain", "domain", None, None, None, None, "domain", None, None, None]


def test_ut1_categories_name_the_reason(ut1):
    urls = ["http://porn.example/", "https://live.cams.example/", "https://casino.example/",
            "https://site.org/members/page.html", "https://www.site.org/members", "https://site.org/membership",
            "https://site.org/"]
    # porn.example is in two categories: the first applied (in folder order, or as listed) names it
    assert decide(urls, ut1=str(ut1)) == ["ut1:adult", "ut1:adult", "ut1:gambling", "ut1:adult", "ut1:adult",
                                          None, None]
    assert decide(urls, ut1=str(ut1), ut1_categories=["gambling"]) == [
        "ut1:gambling", None, "ut1:gambling", None, None, None, None]


def test_the_most_specific_listed_host_decides(ut1):
    assert decide(["https://a.casino.example/", "https://casino.example/"], ut1=str(ut1),
                  domains=["a.casino.example"]) == ["domain", "ut1:gambling"]


def test_url_prefixes_substrings_and_regexes():
    urls = ["https://news.org/politics/2024/story", "https://news.org/politics-extra", "https://news.org/",
            "https://shop.net/WP-Admin/login", "https://a.net/item?id=12", "https://a.net/item?id=x"]
    assert decide(urls, urls=["http://news.org/politics/"], substrings=["/wp-admin"], regexes=[r"\?id=\d+$"]) == [
        "url", None, None, "substring", "regex", None]


def test_fineweb_banned_words_soft_words_and_subwords():
    urls = ["https://site.net/xxx-videos", "https://xxxsite.net/", "https://hot-girls.net/", "https://hot.net/girls",
            "https://hot.net/hot", "https://mypornhubfan.net/", "https://p.o.r.n.h.u.b.net/", "https://clean.org/"]
    assert decide(urls, banned_words=["XXX"], soft_banned_words=["hot", "girls"], soft_word_threshold=2,
                  banned_subwords=["pornhub"]) == [
        "banned_word", None, "soft_banned_words", "soft_banned_words", None, "banned_subword", "banned_subword", None]


def test_the_allow_list_overrides_every_rule(ut1, tmp_path):
    (tmp_path / "allow.txt").write_text("# kept\nsafe.porn.example\n")
    urls = ["https://safe.porn.example/xxx", "https://a.safe.porn.example/", "https://porn.example/",
            "https://wiki.example.org/xxx"]
    assert decide(urls, ut1=str(ut1), banned_words=["xxx"], allow_files=[str(tmp_path / "allow.txt")],
                  allow_domains=["example.org"]) == [None, None, "ut1:adult", None]


def test_lists_from_files(tmp_path):
    (tmp_path / "domains.txt").write_text("blocked.example  # comment\n.dot.example\n")
    (tmp_path / "words.txt").write_text("casino\n")
    assert decide(["https://x.blocked.example/", "https://a.dot.example/", "https://bet.org/casino"],
                  domain_files=[str(tmp_path / "domains.txt")], banned_words_file=str(tmp_path / "words.txt")) == [
        "domain", "domain", "banned_word"]


def test_keys_and_index():
    assert host_key("*.Example.COM.") == "example.com" and host_key("bücher.de") == "xn--bcher-kva.de"
    assert url_key("https://www.Site.org:80/a/b/?q#f") == "site.org/a/b"
    assert suffixes("a.b.c") == ["a.b.c", "b.c", "c"] and suffixes("") == []
    index = HashIndex([("a.com", 3), ("b.com", 1), ("a.com", 2)])
    assert index.find(["a.com", "b.com", "c.com"]).tolist() == [2, 1, -1]
    assert index.nbytes == 3 * 10


@pytest.mark.parametrize("stage, message", [
    ({}, "no rule given"),
    ({"ut1": "/no/such/folder"}, r"ut1: no file or folder '/no/such/folder'"),
    ({"domains": ["a.com"], "ut1_categories": ["adult"]}, "ut1_categories goes with ut1"),
    ({"regexes": ["("]}, "regexes: Value error, regex '\\('"),
    ({"domains": ["a.com"], "soft_word_threshold": 0}, "soft_word_threshold"),
])
def test_bad_parameters_are_config_errors(stage, message):
    """Values are checked as the file is parsed; the files they name when the run is planned (explain is static)."""
    with pytest.raises(ConfigError, match=message):
        config = pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": "o",
                                        "stages": [{"name": "url_filter", **stage}]})
        check(config, [], assumed="warc")


def test_a_missing_category_is_a_config_error(ut1):
    with pytest.raises(ConfigError, match=r"no category porn .*present: adult, gambling, got \[.porn.\]$"):
        pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": "o",
                               "stages": [{"name": "url_filter", "ut1": str(ut1), "ut1_categories": ["porn"]}]})


def test_hosts_are_compared_as_browsers_map_them():
    """IDNA 2008 / UTS #46, non-transitional (the WHATWG URL standard): straße.de is xn--strae-oqa.de, not
    strasse.de (IDNA 2003's mapping); width, case and percent-encoding are folded."""
    urls = ["http://straße.de/", "http://xn--strae-oqa.de/a", "http://STRASSE.de/", "http://Straße.DE/",
            "http://ｂüｃｈｅｒ．ｄｅ/", "http://b%C3%BCcher.de/", "http://bücher.de/"]
    assert decide(urls, domains=["straße.de"]) == ["domain", "domain", None, "domain", None, None, None]
    assert decide(urls, domains=["strasse.de"]) == [None, None, "domain", None, None, None, None]
    assert decide(urls, domains=["xn--bcher-kva.de"]) == [None, None, None, None, "domain", "domain", "domain"]
    assert host_key("Straße.DE") == "xn--strae-oqa.de" and host_key("💩.la") == "xn--ls8h.la"


def test_urls_without_a_scheme_have_hosts():
    urls = ["www.x.com/p", "//x.com/p", "x.com:8080/a?b", " https://x.com/ ", "http://evil.example\\@x.com/",
            "not a url", "mailto:someone@x.com", "x.com", "javascript:void(0)"]
    assert decide(urls, domains=["x.com"]) == [
        "domain", "domain", "domain", "domain", None,  # a browser goes to evil.example: `\` ends the host
        None, None, "domain", None]
    assert decide(["http://evil.example\\@x.com/"], domains=["evil.example"]) == ["domain"]
    assert decide(["www.site.org/members/a", "//site.org/members"], urls=["site.org/members"]) == ["url", "url"]


@pytest.mark.parametrize("stage, message", [
    ({"substrings": ["/wp-admin", ""]}, r"substrings: Value error, entry 1 \(''\) is empty"),
    ({"regexes": [""]}, r"regexes: Value error, entry 0 \(''\) is empty"),
    ({"domains": ["*."]}, r"domains: Value error, entry 0 \('\*\.'\) is empty"),
    ({"banned_words": ["xxx", "--"]}, r"banned_words: Value error, entry 1 \('--'\) is empty"),
    ({"domains": ["a.com"], "allow_domains": [" "]}, "allow_domains: Value error, entry 0"),
])
def test_an_empty_entry_is_a_config_error(stage, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": "o",
                               "stages": [{"name": "url_filter", **stage}]})


@pytest.mark.parametrize("content, message", [
    (b"ok.example\nbad\xff.example\n", r"line 2 is not UTF-8 \(byte 0xff at column 4\)"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", "line 1 holds a NUL byte: a binary file"),
])
def test_a_list_file_that_is_not_text_is_refused(tmp_path, content, message):
    (tmp_path / "domains.txt").write_bytes(content)
    with pytest.raises(CurateError, match="url_filter: cannot read a list .*" + message):
        decide(["https://ok.example/"], domain_files=[str(tmp_path / "domains.txt")])
    (tmp_path / "bom.txt").write_bytes("\ufeffok.example\n".encode())  # a byte-order mark is no error
    assert decide(["https://ok.example/"], domain_files=[str(tmp_path / "bom.txt")]) == ["domain"]


def _open_and_close(fifo) -> None:
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # no reader: nothing waits for a writer
        pass


def test_a_list_file_that_is_a_fifo_is_refused(tmp_path, ut1):
    fifo = tmp_path / "domains.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"domain_files\[0\]: .* is not a regular file but a FIFO"):
        check(pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": "o",
                                     "stages": [{"name": "url_filter", "domain_files": [str(fifo)]}]}),
              [], assumed="warc")
    (ut1 / "fifo-category").mkdir()
    os.mkfifo(ut1 / "fifo-category" / "domains")
    # a writer that comes and goes: a reader that opened the FIFO (the bug) gets an empty list, not a hang
    writer = threading.Timer(5, _open_and_close, [ut1 / "fifo-category" / "domains"])
    writer.daemon = True
    writer.start()
    with pytest.raises(CurateError, match="fifo-category/domains' is not a regular file"):
        decide(["https://porn.example/"], ut1=str(ut1))
