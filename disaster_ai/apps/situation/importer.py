"""Geodata import (being built)."""


def load_sample_layers(context):
    return None
