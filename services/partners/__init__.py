"""The partner gateway: signed webhooks, the event feed, the contracts' schemas at their URLs."""
