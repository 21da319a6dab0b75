"""Deduplication stages: exact (text, URL) and MinHash; global stages decided over the whole corpus."""
