"""Replay of recorded sessions, bookmarks and the trainee action log."""
