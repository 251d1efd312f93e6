"""The data path every layer shares.

Wire codec, dictionary, decoding, channel buffers, limits, alarms, pipeline.
"""
