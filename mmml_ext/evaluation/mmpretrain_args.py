"""mmpretrain's metric arguments on the plugin's metrics: honoured, or refused with the replacement.

A user migrating from mmpretrain changes ``type=`` and keeps the rest: VOC's
``difficult_as_positive`` is read as ``difficult_as``; ``average`` and
mmpretrain's item names (``precision``, ``recall``, ``f1-score``, ``support``)
are ValueErrors that say which keys of the plugin hold those numbers
(docs/migrating.md); any other unknown argument lists the valid ones.
"""
from typing import Dict, Sequence

from .. import config_keys

#: mmpretrain VOC metrics' ``difficult_as_positive`` -> the plugin's ``difficult_as``.
DIFFICULT_AS_POSITIVE = ((None, 'ignore'), (False, 'negative'), (True, 'positive'))

PRF_KEYS = ("mmpretrain's average='macro' precision / recall / f1-score are CP / CR / "
            'macro_F1 (CF1 is the F1 of CP and CR, the number of the multi-label papers), '
            "with absent_classes='include' to count a class with no positive as 0 as "
            "mmpretrain does; average='micro' precision / recall / f1-score are OP / OR / OF1; "
            'average=None (per class) and support are the columns of the per-class report '
            'that MeanAP writes (per_class/<tag>.json / .csv). Choose keys with items=[...]')
AP_KEYS = ("mAP is mmpretrain's AveragePrecision(average='macro') (give "
           "absent_classes='include' to count a class with no positive as AP 0 as mmpretrain "
           'does); average=None (per-class AP) is the ap column of the per-class report '
           '(per_class/<tag>.json / .csv)')
MMPRETRAIN_ITEMS = ('precision', 'recall', 'f1-score', 'support')


def _keys_help(cls: type) -> str:
    return AP_KEYS if 'mAP' in getattr(cls, 'ALL_ITEMS', ()) else PRF_KEYS


def take_difficult_as_positive(unexpected: Dict, difficult_as: str) -> str:
    """``difficult_as`` from mmpretrain's ``difficult_as_positive`` (taken out of ``unexpected``)."""
    if 'difficult_as_positive' not in unexpected:
        return difficult_as
    value = unexpected.pop('difficult_as_positive')
    mapped = next((rule for flag, rule in DIFFICULT_AS_POSITIVE if flag is value), None)
    if mapped is None:
        raise ValueError(f'difficult_as_positive must be None, False or True, got {value!r}')
    if difficult_as not in ('ignore', mapped):
        raise ValueError(f'difficult_as={difficult_as!r} and difficult_as_positive={value!r} '
                         f'disagree; give difficult_as only')
    return mapped


def refuse_unknown(cls: type, unexpected: Dict) -> None:
    """ValueError for mmpretrain's ``average``, and for any other unknown argument."""
    if 'average' in unexpected:
        raise ValueError(f'{cls.__name__} has no average (got average='
                         f'{unexpected["average"]!r}): {_keys_help(cls)}')
    config_keys.refuse_unknown(cls, unexpected)


def refuse_mmpretrain_items(cls: type, unknown: Sequence[str]) -> None:
    """ValueError naming the plugin's keys for mmpretrain's item names."""
    named = [item for item in unknown if item in MMPRETRAIN_ITEMS]
    if named:
        raise ValueError(f'{cls.__name__} has no item(s) {named} (mmpretrain names): '
                         f'{PRF_KEYS}; its items are {list(cls.ALL_ITEMS)}')
