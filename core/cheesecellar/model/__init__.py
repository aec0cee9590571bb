"""The data model: users, indexes and (later) projects, stored as keyed records."""
