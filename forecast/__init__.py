"""forecast: skills-demand forecasting for regional labour-market analysts.

Every feature is callable from Python; ``cli.py`` is a thin Typer layer over it.
"""
from __future__ import annotations

__version__ = "0.1.0"
