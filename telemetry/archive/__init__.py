"""The SQLite archive: format, queue items and queue, writer, reader, export.

schema, items, backlog, lock, rows, writer, records, reader, export, bench:
one concept each.
"""
