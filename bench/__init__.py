"""Benchmarks: skewguard against direct PostgreSQL and pgbouncer (``python -m bench``)."""
