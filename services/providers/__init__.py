"""Upstream providers: the registry (data) and the adapters that speak their protocols."""
