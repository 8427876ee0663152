"""Opinion Radar: storage."""
