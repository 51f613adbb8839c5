"""Sada corpus."""
