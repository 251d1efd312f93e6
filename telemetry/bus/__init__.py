"""The ZeroMQ bus: subscriber thread, paced publisher, CurveZMQ keys and allow-lists."""
