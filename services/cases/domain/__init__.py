"""Misconduct case rules in plain Python: the case (case.py), its intake (intake.py), the steps it takes
(commands.py, lifecycle.py), what they emit (events.py), its deadlines (deadlines.py), the audit trail's hash
chain (audit.py) and victims' identity sealed at rest (confidential.py). No I/O, no framework."""
