"""curate.pipeline"""
