"""The partner gateway's rules in plain Python: which topics a partner reads (scope.py), how a webhook is
signed (signing.py), which targets a webhook may have (targets.py), when a failed delivery is tried again
(retries.py), and the feed's cursor and order (feed.py)."""
