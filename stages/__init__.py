"""curate.stages"""
