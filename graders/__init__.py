"""Assay's grading core: challenges, datasets, scoring, reports and theory rubrics.

Nothing in this package imports Flask; the web app and the CLI both call into it
with plain values.
"""
