"""The ZeroMQ bus: receive and pipeline threads, paced publisher, CurveZMQ keys."""
