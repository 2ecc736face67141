"""One refusal of unknown config keys for every kind of module, read from the signatures."""
import inspect

import pytest
from mmpretrain.registry import DATA_SAMPLERS, DATASETS, METRICS, MODELS

import mmml_ext  # noqa: F401
from mmml_ext.config_keys import init_arguments, refuse_unknown
from test_registration import PLUGIN_NAMES

# the least each module needs before it looks at its keys
NEEDS = dict(ImbalancedMultiLabelHead=dict(num_classes=3, in_channels=4),
             MultiLabelBalancedDataset=dict(dataset=dict(), oversample_thr=0.1),
             PartialLabelDataset=dict(dataset=dict(), keep_ratio=0.5),
             OpenImagesMultiLabel=dict(ann_file='a.csv', class_file='c.csv'),
             RepeatFactorSampler=dict(dataset=None, oversample_thr=0.1),
             ClassAwareSampler=dict(dataset=None))
REGISTRIES = dict(METRICS=METRICS, MODELS=MODELS, DATASETS=DATASETS, DATA_SAMPLERS=DATA_SAMPLERS)
BUILT = [(registry, name) for registry in REGISTRIES for name in PLUGIN_NAMES[registry]
         if name not in ('LongTailedShapes', 'COCOMultiLabel', 'MultiLabelListDataset')]


def own_arguments(cls) -> list:
    """The named keyword arguments of the class's own ``__init__``, by hand."""
    return [name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != 'self' and p.kind == p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize('registry, name', BUILT, ids=[name for _, name in BUILT])
def test_an_unknown_key_is_named_with_the_modules_arguments(registry, name):
    cls = REGISTRIES[registry].get(name)
    with pytest.raises(ValueError) as error:
        cls(**NEEDS.get(name, {}), no_such_key=1)
    message = str(error.value)
    assert f"{name} has no argument(s) ['no_such_key']; its arguments are [" in message
    assert f"dict(_delete_=True, type='{name}', ...)" in message
    listed = message[message.index('its arguments are ['):].split(']')[0]
    assert all(f"'{argument}'" in listed for argument in own_arguments(cls)), listed


def test_arguments_come_from_every_init_of_the_class_and_its_bases():
    loss = MODELS.get('HillLoss')
    arguments = init_arguments(loss)
    assert arguments[:4] == ['lamb', 'margin', 'gamma', 'unknown']  # its own first
    assert {'reduction', 'loss_weight', 'use_sigmoid'} <= set(arguments)  # the base's
    assert 'self' not in arguments and 'kwargs' not in arguments


def test_a_leftover_delete_key_is_no_unknown_key():
    refuse_unknown(object, {'_delete_': True})  # nothing raised
    with pytest.raises(ValueError, match=r"object has no argument\(s\) \['x'\]"):
        refuse_unknown(object(), {'_delete_': True, 'x': 1})
    MODELS.build(dict(type='MultiLabelFocalLoss', _delete_=True))
