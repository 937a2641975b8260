"""The console: the web pages people use (conduct-and-discipline officers first), a backend-for-frontend over
the three APIs. It holds no domain rule and no case data: every page calls the APIs as the signed-in person,
with that person's token, so every rule and every scope stays where it is."""
