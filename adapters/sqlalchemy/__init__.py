"""SQLAlchemy Core adapters for PostgreSQL, MySQL/MariaDB and SQLite."""
