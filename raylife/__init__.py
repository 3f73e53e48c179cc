"""raylife: measure the whole lifecycle of deep-learning models on Ray."""

__version__ = "0.1.0"
