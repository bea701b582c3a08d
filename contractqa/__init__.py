"""contractqa: question answering over French contracts, with cited articles."""

__version__ = "0.1.0"
