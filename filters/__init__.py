"""curate.filters: pure text heuristics, text -> signals -> first failing rule. No engine, no I/O.

Each rule-set module exposes ``SIGNALS``, ``Thresholds`` (the published defaults), ``signals(text, lang)`` and
``reject(signals, thresholds)``; :mod:`curate.filters.text` holds the shared segmentation.
"""

MODULES = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
