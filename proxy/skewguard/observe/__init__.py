"""What the proxy tells operators: metrics, the admin HTTP API."""
