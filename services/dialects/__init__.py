"""The dialects: each parses its request into the one internal call and renders the one internal event stream."""
