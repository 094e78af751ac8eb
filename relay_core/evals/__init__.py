"""Evaluation before deploy: a golden set run through a workflow version, scored field by field."""
