"""The SQLite archive of everything received: writer, reader, export."""
