"""Pledge intake and follow-up."""
