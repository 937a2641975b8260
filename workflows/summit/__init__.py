"""Temporal workflows of summit planning."""
