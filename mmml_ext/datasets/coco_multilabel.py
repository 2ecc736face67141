"""COCO as a multi-label classification dataset, from a detection annotation file.

Every image of ``instances_*.json`` gets the set of categories of its objects as
its labels (the ML-GCN / ASL protocol). Classes are the file's categories in
ascending id order, named by their ``name``. Images with no object are left
out by default (as the ASL code does).
"""
import json
import os.path as osp
from typing import List

from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class COCOMultiLabel(MultiLabelDataset):
    """COCO multi-label classification.

    Args:
        data_root (str): Root of COCO, e.g. ``data/coco``.
        ann_file (str): Annotation file relative to ``data_root``, e.g.
            ``annotations/instances_train2017.json``.
        data_prefix (str): Image directory relative to ``data_root``, e.g.
            ``train2017``.
        skip_empty (bool): Leave out images with no object. Defaults to True.
        **kwargs: Passed to :class:`mmpretrain.datasets.MultiLabelDataset`.

    Examples:
        >>> train = dict(type='COCOMultiLabel', data_root='data/coco',
        ...              ann_file='annotations/instances_train2017.json',
        ...              data_prefix='train2017')
    """

    def __init__(self, data_root: str, ann_file: str, data_prefix: str = '',
                 skip_empty: bool = True, **kwargs):
        self.skip_empty = skip_empty
        path = osp.join(data_root, ann_file)
        with open(path) as f:
            self._coco = json.load(f)
        for key in ('images', 'annotations', 'categories'):
            if key not in self._coco:
                raise ValueError(f'{path} has no "{key}": not a COCO instances file')
        categories = sorted(self._coco['categories'], key=lambda c: c['id'])
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('classes', tuple(c['name'] for c in categories))
        self._ann_path = path
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        coco = self._coco
        index = {c['id']: i for i, c in enumerate(sorted(coco['categories'], key=lambda c: c['id']))}
        labels = {image['id']: set() for image in coco['images']}
        for n, ann in enumerate(coco['annotations']):
            if ann['category_id'] not in index:
                raise ValueError(f'{self._ann_path}: annotation {n} (id {ann.get("id")}) has '
                                 f'category_id {ann["category_id"]}, not in "categories"')
            if ann['image_id'] not in labels:
                raise ValueError(f'{self._ann_path}: annotation {n} (id {ann.get("id")}) refers '
                                 f'to image_id {ann["image_id"]}, not in "images"')
            labels[ann['image_id']].add(index[ann['category_id']])
        prefix = self.data_prefix['img_path']
        data_list = [
            dict(img_path=osp.join(prefix, image['file_name']), gt_label=sorted(labels[image['id']]))
            for image in coco['images'] if labels[image['id']] or not self.skip_empty
        ]
        del self._coco  # the raw file is not needed once parsed
        return data_list
