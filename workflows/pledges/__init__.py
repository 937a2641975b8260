"""Temporal workflows of pledge intake and follow-up."""
