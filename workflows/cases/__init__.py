"""Temporal workflows of misconduct case tracking."""
