"""Reflex states: one small base state, one substate per page or feature."""
