"""FineWeb-2's per-language filtering (Penedo et al. 2025, "FineWeb2: One Pipeline to Scale Them All"): its configs,
and Gopher's and FineWeb's rule sets as its pipeline measured and thresholded them.

FineWeb-2 tuned every threshold per language on the words of that language's tokenizer, with datatrove's definitions
of lines, n-grams and punctuation; a threshold only means what it meant there when the signal is measured the same
way. So this package measures as datatrove does (``gopher_repetition``, ``gopher_quality``, ``fineweb_quality``: the
signals of the rule sets of the same names in :mod:`curate.filters`, each module saying where the definitions part),
and sets each rule set's ``Thresholds`` from a language's config as FineWeb-2's pipeline did (``thresholds(config)``
in each). ``configs`` reads the published configs; ``decide`` applies one language's bounds to many documents at once.

Where curate departs from datatrove, on purpose:

- Divisions by zero that datatrove leaves to raise (a text without words in FineWeb's list ratio or in Gopher's
  ratios) give a value: the rule before them has already rejected such a text in datatrove's order.
- A text without a non-blank line fails FineWeb's first rule, ``line_punct_ratio`` (datatrove: ``empty``).
- Repeated n-grams are compared by a 64-bit hash of their characters, not by the strings: two different n-grams
  with the same hash (odds about 2**-64 per pair) count as equal; n-grams of different texts hashed together are
  told apart by the text's number mixed into the hash (the same odds).
- The word tokenizers, where they differ (:mod:`curate.filters.words`).
"""
