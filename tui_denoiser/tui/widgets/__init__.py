"""Reusable widgets: they display what the screens give them and compute nothing of their own."""
