"""Fault injection on protocol-v1 messages, for trainers."""
