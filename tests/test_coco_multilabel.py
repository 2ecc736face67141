"""COCOMultiLabel on a tiny instances file written by the test."""
import json

import pytest

import mmml_ext  # noqa: F401
from mmml_ext.run_facts import class_stats
from mmml_ext.datasets import COCOMultiLabel

COCO = dict(
    images=[dict(id=1, file_name='a.jpg'), dict(id=2, file_name='b.jpg'),
            dict(id=3, file_name='c.jpg')],
    categories=[dict(id=18, name='dog'), dict(id=1, name='person'), dict(id=3, name='car')],
    annotations=[dict(id=10, image_id=1, category_id=18), dict(id=11, image_id=1, category_id=1),
                 dict(id=12, image_id=1, category_id=18), dict(id=13, image_id=2, category_id=3)],
)


def write(tmp_path, data):
    (tmp_path / 'annotations').mkdir(exist_ok=True)
    (tmp_path / 'annotations' / 'instances.json').write_text(json.dumps(data))
    return dict(data_root=str(tmp_path), ann_file='annotations/instances.json',
                data_prefix='images')


def test_labels_are_the_categories_of_each_image(tmp_path):
    dataset = COCOMultiLabel(**write(tmp_path, COCO))
    assert dataset.metainfo['classes'] == ('person', 'car', 'dog')  # ascending category id
    assert len(dataset) == 2  # image 3 has no object
    assert dataset.get_cat_ids(0) == [0, 2] and dataset.get_cat_ids(1) == [1]
    assert dataset.get_data_info(0)['img_path'].endswith('images/a.jpg')
    assert list(class_stats.compute(dataset).class_counts) == [1, 1, 1]
    assert len(COCOMultiLabel(**write(tmp_path, COCO), skip_empty=False)) == 3


@pytest.mark.parametrize('change, message', [
    (dict(annotations=[dict(id=99, image_id=1, category_id=7)]), 'annotation 0 \\(id 99\\) has category_id 7'),
    (dict(annotations=[dict(id=98, image_id=5, category_id=1)]), 'refers to image_id 5'),
    (dict(categories=None), 'has no "categories"'),
])
def test_bad_annotations_name_file_and_entry(tmp_path, change, message):
    data = dict(COCO, **change)
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ValueError, match=message) as info:
        COCOMultiLabel(**write(tmp_path, data))
    assert 'instances.json' in str(info.value)
