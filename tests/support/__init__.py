"""Fixtures and helpers shared by the whole suite; registered in tests/conftest.py."""
