_instruments = ("dynamiq >= 0.69.0",)
"""The Dynamiq releases this instrumentation is tested with (0.69.0 is the oldest and the latest)."""
