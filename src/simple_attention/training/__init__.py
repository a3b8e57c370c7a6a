"""Training: losses, optimizers, gradient checks, the training loop and toy tasks.

Everything public here is re-exported by :mod:`simple_attention`.
"""
