"""Detectors by module, at the paths PyOD uses (``oddity.models.auto_encoder`` …)."""
