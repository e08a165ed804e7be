"""subalign: exact word and subtitle timings from media and text."""

__version__ = "0.1.0"
