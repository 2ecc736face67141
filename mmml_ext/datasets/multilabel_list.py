"""Custom multi-label data from one list file: a text list or a CSV table.

Custom multi-label data usually arrives as one of two files: a list of images,
each with the names of its classes, or a table with one column per class and
1 / 0 / -1 cells (the form of the chest X-ray sets and of most spreadsheet
exports). :class:`MultiLabelListDataset` reads either, so neither needs a
conversion script, and it checks every line as it reads: a misspelt class, a
stray cell or a missing image stops the run at load time with the file and
line number, instead of becoming a silently missing label. The rules are in
the class docstring and in ``docs/datasets.md``. A ``-1`` cell of a table
means "not annotated" (docs/design.md, 'Target codes'): it reaches the losses
and the metrics as a -1 in ``gt_score``, which they leave out.
"""
import csv
import difflib
import io
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.fileio import get_text, join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.datasets.base_dataset import expanduser
from mmpretrain.registry import DATASETS

from ..config_keys import drop_leftover_delete

FORMATS = ('auto', 'list', 'csv')
_CELL_VALUES = ('1', '0', '-1')
#: Key of an entry's -1 columns (a table with -1 cells), made into ``gt_score`` on reading.
_UNKNOWN = 'unknown_label'


def _read_text(path: str) -> str:
    """The file's text, without a leading UTF-8 byte-order mark (Excel writes one)."""
    text = get_text(path, encoding='utf-8')
    return text[1:] if text.startswith('\ufeff') else text


def _check_class_names(names: Sequence[str], source: str) -> Tuple[str, ...]:
    """The class names as a tuple; ValueError on an empty, padded or repeated name."""
    seen: Dict[str, int] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'{source}: class {i} has an empty name ({name!r})')
        if name != name.strip():
            raise ValueError(f'{source}: class {i} {name!r} has leading or trailing whitespace')
        if name in seen:
            raise ValueError(f'{source}: class {name!r} is given twice (classes {seen[name]} '
                             f'and {i})')
        seen[name] = i
    return tuple(names)


@DATASETS.register_module()
class MultiLabelListDataset(MultiLabelDataset):
    """Multi-label images listed in a text file or a CSV table.

    The format follows the file name: a ``.csv`` file is a table, anything
    else a text list (``ann_format`` overrides the choice).

    **Text list**: one image a line, its path (relative to ``data_prefix``),
    then its class names separated by commas without spaces::

        # path  labels
        images/0001.jpg cat,dog
        images/0002.jpg person
        images/0003.jpg

    Blank lines and lines that start with ``#`` are skipped. The line is split
    at its last run of whitespace (as mmpretrain's ``CustomDataset`` lists
    are), so a path may contain spaces but a class name may not; when a line
    holds a tab, it is split at its first tab instead, so that both the path
    and the class names may contain spaces. A line with a path only (or
    nothing after the tab) is an image with no label. The classes must be
    given, by ``classes`` or ``metainfo``: taking them from the labels seen in
    one file would give a training and a validation split different class
    orders without a word.

    **CSV table**: a header row ``image,<class 1>,<class 2>,...`` that names
    the classes in order, then one row per image: its path, and a cell per
    class, ``1`` (positive), ``0`` (negative) or ``-1`` (not annotated)::

        image,cat,dog,person
        images/0001.jpg,1,1,0
        images/0002.jpg,0,-1,1

    Cells are read by the ``csv`` module (quoted names may hold commas);
    whitespace around a cell is dropped; blank rows are skipped. A ``-1``
    cell is *not annotated*, neither positive nor negative (docs/design.md,
    'Target codes'):
    when a table has any ``-1`` cell, every image of it carries ``gt_score``,
    a (C,) float32 vector of 1 / 0 / -1 (its row of the table), beside
    ``gt_label``, its positives (int64), and the metainfo says
    ``unknown_labels=True`` (once the table is loaded). ``PackInputs`` and
    the data preprocessor pass ``gt_score`` on unchanged (it wins over
    ``gt_label``); mmml_ext's losses give a -1 cell no loss and its metrics
    leave it out, and ``RunFactsHook`` refuses batch augments (Mixup, CutMix)
    on such a training set. The dataset keeps only each row's positive and
    -1 column lists, as compact as the labels; ``gt_score`` is built from
    them when an image is read (:meth:`get_data_info`). A table without
    ``-1`` cells gives ``gt_label`` only, as a text list does. When
    ``classes`` are given too (recommended: every split of a run then has
    the same classes in the same order), the columns are mapped by name, in
    any order; a header name that is not a class (a typo, with the closest
    class named) or a class without a column is an error. Without
    ``classes``, the header's order is the classes' order, and
    ``RunFactsHook`` checks that the evaluated splits have the training set's.

    **Rules for both formats**: an image with no positive label is kept, as a
    negative for every class (``allow_empty=True``, the default: an image of
    none of the classes is ordinary multi-label data); with
    ``allow_empty=False`` it is an error. An image listed twice is an error
    (list all its labels on one line). Every image file is checked to exist
    at load (``check_images=True``); for data on remote storage, or to save
    the time of one ``stat`` per image on a very large list, pass
    ``check_images=False``. Every error is a ``ValueError`` that names the
    file and the line.

    Args:
        ann_file (str): The list file, relative to ``data_root`` unless
            absolute.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
            Defaults to ''.
        data_prefix (str | dict): Directory of the images, relative to
            ``data_root``; image paths in the file are relative to it.
            Defaults to ''.
        classes (str | Sequence[str], optional): Class names, or the path of
            a file with one name per line (as mmpretrain's ``classes``, but a
            relative path is relative to ``data_root``, as ``ann_file``).
            Required for a text list; for a CSV table, the columns are
            mapped onto them by name.
        metainfo (dict, optional): May give ``classes`` instead.
        ann_format (str): ``'auto'`` (by the file's suffix), ``'list'`` or
            ``'csv'``. Defaults to ``'auto'``.
        allow_empty (bool): Accept images with no positive label.
            Defaults to True.
        check_images (bool): Check at load that every image file exists
            (local files). Defaults to True.
        **kwargs: Passed to :class:`mmpretrain.datasets.MultiLabelDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Examples:
        >>> train = dict(type='MultiLabelListDataset', data_root='data/my_set',
        ...              ann_file='train.txt', data_prefix='images',
        ...              classes='classes.txt')
        >>> val = dict(type='MultiLabelListDataset', data_root='data/my_set',
        ...            ann_file='val.csv', data_prefix='images', classes='classes.txt')

        A table with a ``-1`` cell (``b.png`` not annotated for ``dog``) gives
        every image a ``gt_score``: ``a.png`` ``[1, 0, 0]``, ``b.png``
        ``[0, -1, 1]``, with ``gt_label`` ``[0]`` and ``[2]``::

            image,cat,dog,person
            a.png,1,0,0
            b.png,0,-1,1
    """

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 classes: Union[str, Sequence[str], None] = None,
                 metainfo: Optional[dict] = None,
                 ann_format: str = 'auto',
                 allow_empty: bool = True,
                 check_images: bool = True,
                 **kwargs):
        drop_leftover_delete(kwargs)
        if ann_format not in FORMATS:
            raise ValueError(f'ann_format must be one of {FORMATS}, got {ann_format!r}')
        if not ann_file:
            raise ValueError('ann_file is required: the list file of the images')
        path = expanduser(ann_file)
        if data_root and not is_abs(path):
            path = join_path(data_root, path)
        if ann_format == 'auto':
            ann_format = 'csv' if path.lower().endswith('.csv') else 'list'
        self.ann_format = ann_format
        self.allow_empty = allow_empty
        self.check_images = check_images

        if isinstance(classes, str):  # a file of names: relative to data_root, as ann_file
            classes = self._class_file(expanduser(classes), data_root)
        metainfo = self._compat_classes(metainfo, classes)
        given = metainfo.get('classes')
        if given is not None:
            given = _check_class_names(given, 'classes')
        self._csv_text = None
        self._csv_columns: Optional[List[int]] = None
        if ann_format == 'csv':
            self._csv_text = _read_text(path)
            header_line, header = self._csv_header(path, self._csv_text)
            if given is not None:
                self._csv_columns = self._columns_by_name(f'{path}, line {header_line}', header,
                                                          given)
            metainfo = dict(metainfo, classes=header if given is None else given)
        elif given is None:
            raise ValueError(f'{path}: a text list needs its classes: pass classes=[...] or '
                             'the path of a file with one class name per line, so that every '
                             'split uses the same class order')
        else:
            bad = next((name for name in given if ',' in name), None)
            if bad is not None:
                raise ValueError(f'classes: {bad!r} holds a comma, which separates the labels '
                                 'of a text list; use a CSV table')
            metainfo = dict(metainfo, classes=given)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         metainfo=metainfo, **kwargs)

    @staticmethod
    def _class_file(classes: str, data_root: str) -> str:
        """A relative class file is looked up in ``data_root``; a path that exists only from
        the working directory (mmpretrain's rule, older configs) is taken with a warning."""
        if not data_root or is_abs(classes):
            return classes
        joined = join_path(data_root, classes)
        if osp.isfile(joined) or not osp.isfile(classes):
            if not osp.isfile(joined):
                raise FileNotFoundError(
                    f'classes file {joined!r} does not exist (a relative classes path is '
                    f'relative to data_root {data_root!r}, as ann_file)')
            return joined
        print_log(f'MultiLabelListDataset: classes={classes!r} is read from the working '
                  f'directory; a relative classes path is relative to data_root: write '
                  f'classes={osp.relpath(classes, data_root)!r}', logger='current',
                  level=logging.WARNING)
        return classes

    # ------------------------------------------------------------------ CSV
    @staticmethod
    def _csv_header(path: str, text: str) -> Tuple[int, Tuple[str, ...]]:
        """(line number, class names) of the table's header row."""
        reader = csv.reader(io.StringIO(text))
        for row in reader:
            if any(cell.strip() for cell in row):
                cells = [cell.strip() for cell in row]
                where = f'{path}, line {reader.line_num}'
                if cells[0].lower() != 'image':
                    raise ValueError(f'{where}: the header must be "image,<class 1>,<class 2>,'
                                     f'...", its first cell is {cells[0]!r}')
                if len(cells) < 2:
                    raise ValueError(f'{where}: the header names no class')
                return reader.line_num, _check_class_names(cells[1:], where)
        raise ValueError(f'{path}: the file is empty; a CSV table needs a header row '
                         '"image,<class 1>,<class 2>,..."')

    @staticmethod
    def _columns_by_name(where: str, header: Sequence[str],
                         given: Sequence[str]) -> Optional[List[int]]:
        """The header column of each given class (None when in order); ValueError on a
        header name that is not a class (a typo) or a class without a column."""
        unknown = [name for name in header if name not in given]
        if unknown:
            close = difflib.get_close_matches(unknown[0], given, n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
            raise ValueError(f'{where}: the header names {unknown[0]!r}{hint}, which is not one '
                             f'of the {len(given)} classes given')
        missing = [name for name in given if name not in header]
        if missing:
            raise ValueError(f'{where}: the header has no column for the classes {missing}')
        if tuple(header) == tuple(given):
            return None
        position = {name: i for i, name in enumerate(header)}
        return [position[name] for name in given]

    def _load_csv(self) -> List[dict]:
        path, text = self.ann_file, self._csv_text
        reader = csv.reader(io.StringIO(text))
        num_columns = len(self.CLASSES) + 1
        lines: List[int] = []
        paths: List[str] = []
        cells: List[str] = []
        header_seen = False
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if not header_seen:
                header_seen = True
                continue
            if len(row) != num_columns:
                raise ValueError(f'{path}, line {reader.line_num}: {len(row)} columns, the header '
                                 f'has {num_columns} (image and {num_columns - 1} classes)')
            lines.append(reader.line_num)
            paths.append(row[0].strip())
            cells.extend(cell.strip() for cell in row[1:])
        self._csv_text = None  # parsed: the text is no longer needed
        num_images = len(paths)
        table = np.array(cells, dtype=str).reshape(num_images, num_columns - 1)
        if self._csv_columns is not None:  # the header's order into the classes' order
            table = table[:, self._csv_columns]
        positive, ignored = table == '1', table == '-1'
        bad = ~(positive | ignored | (table == '0'))
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            cell = str(table[row, col])
            raise ValueError(f'{path}, line {lines[row]}: the cell of class '
                             f'{self.CLASSES[col]!r} is {cell!r}; cells must be 1 (positive), '
                             '0 (negative) or -1 (ignored)')
        if not ignored.any():  # every cell annotated: gt_label only, as a text list
            return self._data_list(path, lines, paths, self._rows(positive), None)
        self._metainfo['unknown_labels'] = True
        return self._data_list(path, lines, paths, self._rows(positive), self._rows(ignored))

    @staticmethod
    def _rows(mask: np.ndarray) -> List[List[int]]:
        """The column indices of the True cells of each row of ``mask``."""
        if mask.shape[0] == 0:
            return []
        rows, cols = np.nonzero(mask)
        ends = np.cumsum(np.bincount(rows, minlength=mask.shape[0]))
        return [part.tolist() for part in np.split(cols, ends[:-1])]

    # ------------------------------------------------------------ text list
    def _load_list(self) -> List[dict]:
        path = self.ann_file
        index = self.class_to_idx
        spaced_names = any(any(c.isspace() for c in name) for name in self.CLASSES)
        lines: List[int] = []
        paths: List[str] = []
        labels: List[List[int]] = []
        for number, raw in enumerate(_read_text(path).splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            where = f'{path}, line {number}'
            tab = '\t' in raw
            if tab:
                image, _, names = raw.partition('\t')
            else:
                parts = line.rsplit(None, 1)
                image, names = (parts[0], parts[1]) if len(parts) == 2 else (parts[0], '')
                if image.rstrip().endswith(','):
                    raise ValueError(f'{where}: write the labels without spaces after the '
                                     'commas ("cat,dog"), or put a tab between the path and '
                                     'the labels')
            image, names = image.strip(), names.strip()
            ids = set()
            for name in (n.strip() for n in names.split(',')) if names else ():
                if not name:
                    raise ValueError(f'{where}: empty class name in {names!r} (two commas in '
                                     'a row, or a comma at an end)')
                if name not in index:
                    hint = ''
                    if not tab and ('/' in name or osp.splitext(name)[1]):
                        hint = (' (it looks like a path: a path with spaces and no label needs '
                                'a tab after it)')
                    elif spaced_names and not tab:
                        hint = (' (a class name with spaces needs a tab between the path and '
                                'the labels)')
                    raise ValueError(f'{where}: unknown class {name!r}{hint}; the '
                                     f'{len(index)} classes are {self._preview()}')
                ids.add(index[name])
            lines.append(number)
            paths.append(image)
            labels.append(sorted(ids))
        return self._data_list(path, lines, paths, labels, None)

    def _preview(self, limit: int = 10) -> str:
        names = [repr(n) for n in self.CLASSES[:limit]]
        return ', '.join(names) + (', ...' if len(self.CLASSES) > limit else '')

    # --------------------------------------------------------------- common
    def _data_list(self, path: str, lines: List[int], paths: List[str],
                   labels: List[List[int]],
                   ignored: Optional[List[List[int]]]) -> List[dict]:
        """Check the images (listed once, labelled, present) and build the entries."""
        first_line: Dict[str, int] = {}
        for number, image in zip(lines, paths):
            if not image:
                raise ValueError(f'{path}, line {number}: no image path')
            if image in first_line:
                raise ValueError(f'{path}, line {number}: image {image!r} is listed again (first '
                                 f'on line {first_line[image]}); give all its labels on one '
                                 'line')
            first_line[image] = number
        if not self.allow_empty:
            empty = next((i for i, ids in enumerate(labels) if not ids), None)
            if empty is not None:
                raise ValueError(f'{path}, line {lines[empty]}: image {paths[empty]!r} has no '
                                 'positive label (allow_empty=False)')
        prefix = self.img_prefix
        full_paths = [join_path(prefix, image) if prefix else image for image in paths]
        if self.check_images:
            for number, full in zip(lines, full_paths):
                if not osp.isfile(full):
                    raise ValueError(f'{path}, line {number}: image {full!r} does not exist '
                                     '(check data_root and data_prefix; check_images=False '
                                     'skips this check)')
        if ignored is None:
            return [dict(img_path=full, gt_label=ids) for full, ids in zip(full_paths, labels)]
        # the -1 columns, turned into gt_score by get_data_info
        return [
            {'img_path': full, 'gt_label': ids, _UNKNOWN: unknown}
            for full, ids, unknown in zip(full_paths, labels, ignored)
        ]

    def get_data_info(self, idx: int) -> dict:
        """The entry of image ``idx``; for a table with -1 cells, with ``gt_score`` (C,)
        float32 of 1 / 0 / -1 and ``gt_label`` its positives (int64)."""
        info = super().get_data_info(idx)
        unknown = info.pop(_UNKNOWN, None)
        if unknown is not None:
            positives = np.asarray(info['gt_label'], dtype=np.int64)
            score = np.zeros(len(self.CLASSES), dtype=np.float32)
            score[positives] = 1.0
            score[np.asarray(unknown, dtype=np.int64)] = -1.0
            info['gt_label'], info['gt_score'] = positives, score
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        """The positive class indices of image ``idx``."""
        return list(super().get_data_info(idx)['gt_label'])

    def load_data_list(self) -> List[dict]:
        """Parse and check the list file (see the class docstring for the rules)."""
        if self.ann_format == 'csv':
            return self._load_csv()
        return self._load_list()

    def extra_repr(self) -> List[str]:
        return [
            f'Annotation file: \t{self.ann_file} ({self.ann_format})',
            f'Prefix of images: \t{self.img_prefix}',
        ]
