"""Sada pipeline."""
