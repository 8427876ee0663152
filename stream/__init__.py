"""Opinion Radar: stream."""
