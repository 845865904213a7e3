"""`disaster-ai geo …` (being built)."""

import click


@click.group("geo")
def geo_group():
    """Import and inspect geodata layers."""
