"""Tool calling below the dialects: the request's tools, native-call normalisation, and web-chat emulation."""
