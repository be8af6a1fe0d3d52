"""The HTTP edges: parse, call a service, shape a response."""
