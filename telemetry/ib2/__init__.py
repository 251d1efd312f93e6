"""Int-Ball2's own downlink: UDP pickled telemetry, ROS 1 messages, the dock record."""
