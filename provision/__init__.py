"""dlws: inventory, diagnose and provision deep-learning machines."""

__version__ = "0.1.0"
