"""COCO as a multi-label classification dataset, from a detection annotation file.

Every image of ``instances_*.json`` gets the set of categories of its objects as
its labels (the ML-GCN / ASL protocol). Classes are the file's categories in
ascending id order, named by their ``name``. Images with no object are left
out by default (as the ASL code does). ``image_ids_file`` keeps a listed subset
of the images, in the list's order: the long-tailed COCO-MLT split of the
distribution-balanced loss paper is such a list of train2017 ids.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.logging import print_log
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS

from ..config_keys import drop_leftover_delete


def read_image_ids(path: str) -> List[Tuple[int, int]]:
    """``(line number, image id)`` of each id of a text file, one id a line.

    Blank lines and lines starting with ``#`` are skipped. A line that is not
    an integer, a duplicate id or a binary file (such as a pickle, which is
    never unpickled here) raises a ValueError naming the file and line.
    """
    with open(path, 'rb') as f:
        raw = f.read()
    if raw[:1] == b'\x80':
        raise ValueError(f'{path}, line 1: this looks like a Python pickle, which is never '
                         'unpickled here; image_ids_file must be a text file with one image id '
                         'a line (docs/datasets.md shows how to convert a pickle you trust)')
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as error:
        raise ValueError(f'{path}: not a UTF-8 text file ({error}); image_ids_file must hold '
                         'one image id a line') from None
    ids, first_line = [], {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        try:
            image_id = int(line)
        except ValueError:
            raise ValueError(f'{path}, line {number}: {line!r} is not an image id (an '
                             'integer)') from None
        if image_id in first_line:
            raise ValueError(f'{path}, line {number}: image id {image_id} is listed again '
                             f'(first on line {first_line[image_id]})')
        first_line[image_id] = number
        ids.append((number, image_id))
    return ids


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
        image_ids_file (str, optional): A text file, relative to
            ``data_root``, with one COCO image id a line (blank lines and
            ``#`` lines skipped). Only those images are kept, in the file's
            order; an id missing from ``ann_file`` or listed twice is a
            ValueError naming the file and line(s). ``skip_empty`` still
            applies (with a warning when it drops listed images).
            Defaults to None (all images).
        **kwargs: Passed to :class:`mmpretrain.datasets.MultiLabelDataset`.

    Examples:
        >>> train = dict(type='COCOMultiLabel', data_root='data/coco',
        ...              ann_file='annotations/instances_train2017.json',
        ...              data_prefix='train2017')
        >>> coco_mlt = dict(train, image_ids_file='annotations/longtail2017_img_id.txt')
    """

    def __init__(self, data_root: str, ann_file: str, data_prefix: str = '',
                 skip_empty: bool = True, image_ids_file: Optional[str] = None, **kwargs):
        drop_leftover_delete(kwargs)
        self.skip_empty = skip_empty
        self.image_ids_file = osp.join(data_root, image_ids_file) if image_ids_file else None
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
        images = coco['images']
        if self.image_ids_file is not None:
            images = self._listed_images(images)
        prefix = self.data_prefix['img_path']
        data_list = [
            dict(img_path=osp.join(prefix, image['file_name']), gt_label=sorted(labels[image['id']]))
            for image in images if labels[image['id']] or not self.skip_empty
        ]
        if self.image_ids_file is not None and len(data_list) < len(images):
            print_log(f'COCOMultiLabel: {len(images) - len(data_list)} of the {len(images)} images '
                      f'listed in {self.image_ids_file} have no object and are left out '
                      '(skip_empty=True)', logger='current')
        del self._coco  # the raw file is not needed once parsed
        return data_list

    def _listed_images(self, images: List[dict]) -> List[dict]:
        """The images of ``image_ids_file``, in its order."""
        by_id: Dict[int, dict] = {image['id']: image for image in images}
        listed = []
        for number, image_id in read_image_ids(self.image_ids_file):
            if image_id not in by_id:
                raise ValueError(f'{self.image_ids_file}, line {number}: image id {image_id} is '
                                 f'not in {self._ann_path}')
            listed.append(by_id[image_id])
        return listed
