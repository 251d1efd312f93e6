"""The Qt-free core, in layers: core, then bus/archive/radiation/faults, live, replay/sim, reports.

The layers are an import-linter contract in pyproject.toml (docs/architecture.md).
"""
