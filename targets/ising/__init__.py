"""Ising models: spin systems, their exact ground truth and their continuous relaxation.

Spin systems p(s) ∝ exp(s^T W s / 2 + b^T s), their exact ground truth (enumeration, Kaufman's torus
formula) and their continuous relaxation.
"""
