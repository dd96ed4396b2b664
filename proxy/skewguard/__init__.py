"""skewguard: a PostgreSQL proxy that keeps every running app version working."""

__version__ = "0.1.0"
