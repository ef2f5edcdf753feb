"""discord_ui package."""
