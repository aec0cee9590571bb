"""Search of private projects and their documentation with whoosh (built-in plugin)."""
