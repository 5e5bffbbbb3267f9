"""Test data and helpers shared between test modules (never imported from another test module)."""
