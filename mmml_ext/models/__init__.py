"""Models: losses for imbalanced multi-label training, and a head (docs/losses.md)."""
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
