"""The seeded simulator and its publishing commands."""
