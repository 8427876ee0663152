"""Opinion Radar: services."""
