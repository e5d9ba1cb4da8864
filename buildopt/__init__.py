"""buildopt: make Docker images for Python and ML services small and safe, and keep them that way."""

__version__ = "0.1.0"
