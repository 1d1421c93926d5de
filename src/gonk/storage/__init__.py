"""Storage behind two small interfaces: metadata (SQLAlchemy Core) and blobs (content-addressed)."""
