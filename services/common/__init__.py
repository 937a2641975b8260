"""Building blocks shared by every service: no domain code lives here."""
