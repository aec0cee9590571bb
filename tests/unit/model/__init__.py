"""Unit tests of the data model."""
