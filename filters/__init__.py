"""curate.filters: pure text heuristics, text -> signals -> first failing rule. No engine, no I/O.

Each rule-set module (``gopher_quality``, ``gopher_repetition``, ``c4``, ``fineweb``) exposes ``SIGNALS`` (signal
names, stable order), ``Thresholds`` (a frozen dataclass of the published defaults),
``signals(text, lang=None) -> dict[str, float]`` and ``reject(signals, thresholds) -> rule name | None``. ``c4`` also
has ``clean(text, ...)``, which returns the text with C4's line rules applied together with the signals;
``c4.signals``/``c4.clean`` take ``th=`` (which lines are removed) and ``bad_words=`` (a user's list,
:class:`curate.filters.c4.BadWords`), ``fineweb.signals`` takes ``th=`` (the short-line length).
:mod:`curate.filters.text` holds the segmentation they share.
"""
