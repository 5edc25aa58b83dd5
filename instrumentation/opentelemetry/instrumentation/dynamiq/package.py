_instruments = ("dynamiq >= 0.65.0",)
"""Tested with Dynamiq 0.65.0 (the oldest supported) and 0.69.0 (the latest release)."""
