"""Tracked runs: webhook envelopes and their signatures, applying events to run state, the
event log, reviews and expiry."""
