"""Reusable UI pieces, as plain functions."""
