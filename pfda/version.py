"""The version of pfda (one place: the package, results files and the CLI read it)."""

__version__ = "0.1.0"
