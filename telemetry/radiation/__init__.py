"""Crew radiation dose: physics, estimator, ledger, space weather, roster, limits."""
