"""Benchmarks: each scenario runs beside its baseline in the same run (`python -m bench`)."""
