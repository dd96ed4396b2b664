"""The PostgreSQL wire protocol, without I/O: framing, codecs, startup rules."""
