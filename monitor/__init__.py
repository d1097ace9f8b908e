"""monitor: a Korean-first news monitor."""

__version__ = "0.1.0"
