"""The app's HTTP routes, one router per resource."""
