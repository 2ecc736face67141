"""Where run facts live inside a checkpoint: ``checkpoint['meta']['mmml_ext'][name]``.

Facts that belong to the weights (the training class statistics, the
thresholds tuned for these weights) travel with the checkpoint, so testing
``epoch_3.pth`` from any directory uses what was known at epoch 3. Values are
plain JSON-like data (dicts, lists, numbers, strings), which
``torch.load(weights_only=True)`` reads without any allowlist.
"""
from typing import Any, Optional

META_KEY = 'mmml_ext'


def get_fact(checkpoint: dict, name: str) -> Optional[Any]:
    """The fact ``name`` stored in ``checkpoint``, or None."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    facts = meta.get(META_KEY) if isinstance(meta, dict) else None
    return facts.get(name) if isinstance(facts, dict) else None


def put_fact(checkpoint: dict, name: str, value: Any) -> None:
    """Store ``value`` as the fact ``name`` of ``checkpoint`` (in place)."""
    meta = checkpoint.setdefault('meta', {})
    meta.setdefault(META_KEY, {})[name] = value
