"""Pieces of the whole-process speed benchmark (``bench/speed.py``): corpora, server, runners."""
