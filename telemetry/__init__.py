"""The Qt-free core, in layers from core up to reports.

The layers are an import-linter contract in pyproject.toml (docs/architecture.md).
"""
