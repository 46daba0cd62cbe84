"""The portal layer: pages that bring every app together (the dashboard)."""
