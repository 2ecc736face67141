"""mmpretrain's ``use_sigmoid`` on the plugin's losses: honoured, or refused with the replacement.

A config written for mmpretrain keeps its loss arguments when only ``type=`` is
changed (mmengine merges a child config's dict into the base's), so
``dict(type='CrossEntropyLoss', use_sigmoid=True)`` becomes
``dict(type='MultiLabelBCELoss', use_sigmoid=True)``. Every loss of the plugin
therefore takes ``use_sigmoid=True`` (what it computes anyway) and refuses
``use_sigmoid=False`` (mmpretrain's softmax losses, for single-label tasks)
naming mmpretrain's loss for that case; any other unknown argument is refused by
:func:`mmml_ext.config_keys.refuse_unknown`, listing the valid ones
(docs/migrating.md).
"""


def check_use_sigmoid(cls: type, use_sigmoid) -> None:
    """ValueError for ``use_sigmoid`` other than True, naming mmpretrain's softmax losses."""
    if use_sigmoid is not True:
        raise ValueError(
            f'{cls.__name__}(use_sigmoid={use_sigmoid!r}): the losses of mmml_ext are '
            'multi-label, one sigmoid per class (use_sigmoid=True, which may be left out); '
            "use_sigmoid=False is mmpretrain's softmax loss for single-label tasks: keep "
            "mmpretrain's CrossEntropyLoss or AsymmetricLoss(use_sigmoid=False) for those")
