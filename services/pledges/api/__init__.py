"""HTTP routes of the pledges service, one module per resource: pledges.py (submit, read, list, act),
imports.py (bulk import), reports.py (summary, financial, CSV export)."""
