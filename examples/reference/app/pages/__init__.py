"""Static pages the app serves."""
