"""Persistence: SQLAlchemy tables and small repositories. SQLite (WAL) by default, any SQLAlchemy URL."""
