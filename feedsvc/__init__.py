"""feedsvc: watch news outlets, group the same story across them, republish clean feeds."""

__version__ = "0.1.0"

__all__ = ["__version__"]
