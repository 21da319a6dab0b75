"""curate.jobs"""
