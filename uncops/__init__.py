"""The `uncops` command: every process of the platform, started by name."""
