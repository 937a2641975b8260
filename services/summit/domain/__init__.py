"""The summit's rules in plain Python: the plan (plan.py), its money (budget.py), delegations
(delegations.py), the agenda and its conflicts (agenda.py), and the programme's renderings (programme.py)."""
