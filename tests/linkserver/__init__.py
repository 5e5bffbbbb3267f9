"""Tests of the reference linkage server."""
