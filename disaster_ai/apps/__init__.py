"""Core capabilities, each a plugin registered exactly like an outside one."""
