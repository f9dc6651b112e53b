"""Steelyard's own extensions of the tenant API."""
