"""From text to vectors: tokens, vocabularies, padding, embeddings and positions.

Steps 1 and 2 of the pipeline. Everything here is re-exported by :mod:`simple_attention`.
"""
