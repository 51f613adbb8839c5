"""Sada flows."""
