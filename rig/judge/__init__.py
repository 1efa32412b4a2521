"""Judging a run: the guest record protocol, the build manifest, verdicts against the model."""
