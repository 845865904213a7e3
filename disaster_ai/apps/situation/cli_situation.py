"""`disaster-ai situation` (being built)."""

import click


@click.command("situation")
def situation_command():
    """Print the situation summary."""
