"""Test data for curate's tests and benches: the demo crawl and the parts to build other crawls from.

    from curate.testing import generate_crawl, demo_texts

- `generate_crawl(directory, files=4, seed=7)`: the demo crawl (what `curate demo` runs on) as `files` WARC.gz files;
- `demo_texts(seed=11, sentences=4000)`: sentences in the crawl's four languages (to train a tokenizer or a model);
- `sentence(rng, lang)`, `article(rng, lang)`: a sentence, an article (title, paragraphs) in en, de, fr or es;
- `page(lang, title, paragraphs)`: an article's HTML page (navigation, aside, footer); `spam_page(rng)`: keyword spam;
- `warc_record(url, date, status, content_type, body)`: one gzipped WARC response record, to write into a `.warc.gz`;
- `phrase_lists()`: every list of phrases the sentences are drawn from; `LANGUAGE_SHARE`: articles per language.

Everything is seeded: the same arguments give the same bytes.
"""
from curate.testing.crawl import (LANGUAGE_SHARE, article, demo_texts, generate_crawl, page, phrase_lists, sentence,
                                  spam_page, warc_record)

__all__ = ["LANGUAGE_SHARE", "article", "demo_texts", "generate_crawl", "page", "phrase_lists", "sentence",
           "spam_page", "warc_record"]
