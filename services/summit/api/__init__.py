"""HTTP routes of summit planning, one router per resource; access.py holds the roles they share."""
