"""Operating the relay: dead letters and their redrive, retention of finished work, metrics
and their export."""
