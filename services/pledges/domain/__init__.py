"""The pledge domain in plain Python: a submission (submission.py), its possible duplicates (duplicates.py),
the pledge after submission and its steps (pledge.py, commands.py), bulk import's parsing (importing.py)."""
