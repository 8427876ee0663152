"""Opinion Radar: inference."""
