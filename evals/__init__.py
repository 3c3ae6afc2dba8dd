"""Measurements: retrieval quality, narrative quality, speed. Each prints its figures."""
