"""comfycord: ComfyUI in front of Discord communities."""

__version__ = "0.1.0"
