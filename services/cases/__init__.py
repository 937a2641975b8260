"""Misconduct case tracking: referral through prosecution."""
