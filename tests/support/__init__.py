"""Test support: real PostgreSQL clusters and a real proxy process."""
