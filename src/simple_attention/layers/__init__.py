"""Trainable layers and models, built on the :class:`~simple_attention.Layer` interface.

The attention layers, linear and dropout layers, and the small models of the tutorial.
Everything public here is re-exported by :mod:`simple_attention`.
"""
