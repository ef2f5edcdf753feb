"""comfy package."""
