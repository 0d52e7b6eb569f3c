"""bluegreen-action: zero-downtime blue-green deploys of Docker Compose apps."""
__version__ = "0.1.0"
