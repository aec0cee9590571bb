"""Upload triggers: Jenkins jobs and signed webhooks, delivered after commit."""
