"""Test support shared by every test tree."""
