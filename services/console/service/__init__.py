"""The console's use cases, one module per area (as ``api/`` has one router per area): each reads and acts
through the APIs as the signed-in person and decides nothing the APIs decide."""
