"""Benchmarks: each prints key=value figures (`make bench`)."""
