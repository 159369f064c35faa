"""Uncertainty estimators: denoising vectors (diffusion), Jeffreys (EBM), ensemble variance, random."""

from hitl_policy.uncertainty.base import UncertaintyEstimator, UncertaintyResult

__all__ = ["UncertaintyEstimator", "UncertaintyResult"]
