"""Sada models."""
