"""The asyncio shell: it only moves bytes between clients and PostgreSQL."""
