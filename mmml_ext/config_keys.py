"""A clear error for config keys a module does not take.

mmengine merges a config's dicts into its base's: a snippet that replaces the
base's dataset or sampler with one of this package inherits the keys of the
replaced one (``data_root``, ``shuffle``, ...), and Python's own
``unexpected keyword argument`` does not say why. These modules take the
unknown keys and name them, their own arguments, and ``_delete_=True``.
"""


def drop_leftover_delete(kwargs: dict) -> dict:
    """``kwargs`` without ``_delete_``, which mmengine leaves in a dict that had no base to replace."""
    kwargs.pop('_delete_', None)
    return kwargs


def refuse_unknown(owner: str, unexpected: dict, valid: str) -> None:
    """A ValueError for config keys ``owner`` does not take, as when a snippet is merged onto a
    base config whose keys it inherits (mmengine merges dicts).

    ``_delete_`` is left alone: mmengine keeps it in a dict that had nothing to
    replace (a config without that key in its base), where it means nothing.
    """
    unexpected = {key: value for key, value in unexpected.items() if key != '_delete_'}
    if unexpected:
        raise ValueError(
            f'{owner} got {sorted(unexpected)}, which it does not take (its arguments: {valid}). '
            'Keys inherited from a base config are merged into a new type: write '
            f"dict(_delete_=True, type='{owner}', ...) to replace the base's dict")
