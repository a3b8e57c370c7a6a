"""Attention itself: softmax, the loops, scaled dot-product attention and its masks.

Steps 3 to 5 of the pipeline, and the memory-efficient kernels (blocks of queries, the online
softmax over blocks of keys) and the key-value cache for decoding. Everything public here is
re-exported by :mod:`simple_attention`.
"""
