"""The HTTP API: ticket intake and status for other systems, and the health check."""
