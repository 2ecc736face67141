"""Parsers of OpenImages' image-level label files (pure numpy and ``csv``).

OpenImages publishes its image-level labels as three kinds of plain files: the
class descriptions (``LabelName,DisplayName``: a Freebase MID and its name), the
list of trainable classes (one MID a line) and, per split, the human-verified
labels (``ImageID,Source,LabelName,Confidence``, one row per verified
(image, class) cell: ``1`` present, ``0`` verified absent). Every other cell is
not annotated. The V6 training file has 57.5M rows, so the rows are read by the
``csv`` module in blocks and everything else is done on numpy arrays: no Python
object per row or per image is kept. The result is a CSR table of the verified
cells, which :class:`~mmml_ext.datasets.openimages.OpenImagesMultiLabel` turns
into samples on demand.

Every error is a ValueError that names the file and the line. No mmengine, no
torch here: the parsers can be used and tested alone.
"""
import csv
import gc
from array import array
from dataclasses import dataclass, field, replace
from itertools import islice, repeat
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

import numpy as np

#: The header of ``oidv6-class-descriptions.csv`` (older ``class-descriptions.csv`` has none).
DESCRIPTIONS_HEADER = ['LabelName', 'DisplayName']
#: The header of the human-verified image-level label files.
LABELS_HEADER = ['ImageID', 'Source', 'LabelName', 'Confidence']
#: Rows parsed per block: a few tens of MB of Python strings at a time.
BLOCK_ROWS = 1 << 18
_CONFIDENCE = {'1': 1, '0': 0}


@dataclass(frozen=True)
class ClassList:
    """The classes of a dataset, in class-index order.

    Attributes:
        mids (tuple[str]): The classes' MIDs (``LabelName``), e.g. ``'/m/011k07'``.
        names (tuple[str]): Their display names, e.g. ``'Tortoise'``.
        described (frozenset[str]): Every MID of the descriptions file (a MID
            of a label file outside it is an error, one inside it but not in
            ``mids`` is a class left out).
        source (str): The descriptions file, for messages.
    """
    mids: Tuple[str, ...]
    names: Tuple[str, ...]
    described: FrozenSet[str]
    source: str

    def __len__(self) -> int:
        return len(self.mids)


def read_class_descriptions(path: str) -> ClassList:
    """The classes of a class descriptions CSV, in the file's order.

    Rows are ``LabelName,DisplayName``. A first row that is exactly
    ``LabelName,DisplayName`` is the header (``oidv6-class-descriptions.csv``);
    older files (``class-descriptions.csv``) have none. Blank lines are skipped.

    Args:
        path (str): The CSV file.

    Returns:
        ClassList: Every MID of the file with its display name.

    Raises:
        ValueError: On a row without exactly two cells, an empty cell or a
            MID given twice, naming the file and line(s).

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'oidv6-class-descriptions.csv')
        >>> _ = open(path, 'w').write('LabelName,DisplayName\\n/m/011k07,Tortoise\\n'
        ...                           '/m/0120dh,Sea turtle\\n')
        >>> classes = read_class_descriptions(path)
        >>> classes.mids, classes.names
        (('/m/011k07', '/m/0120dh'), ('Tortoise', 'Sea turtle'))
    """
    mids: List[str] = []
    names: List[str] = []
    line_of: Dict[str, int] = {}
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.reader(f)
        first = True
        for row in reader:
            if not row:
                continue
            number = reader.line_num
            if first:
                first = False
                if row == DESCRIPTIONS_HEADER:
                    continue
            where = f'{path}, line {number}'
            if len(row) != 2:
                raise ValueError(f'{where}: {len(row)} cells {row!r}; a class description is '
                                 '"LabelName,DisplayName" (quote a name that holds a comma)')
            mid, name = row
            for cell, column in ((mid, 'LabelName'), (name, 'DisplayName')):
                if not cell.strip():
                    raise ValueError(f'{where}: empty {column} in {row!r}')
            if mid in line_of:
                raise ValueError(f'{where}: LabelName {mid!r} is described again (first on '
                                 f'line {line_of[mid]})')
            line_of[mid] = number
            mids.append(mid)
            names.append(name)
    if not mids:
        raise ValueError(f'{path}: no class description (rows "LabelName,DisplayName")')
    return ClassList(tuple(mids), tuple(names), frozenset(mids), path)


def select_trainable(classes: ClassList, path: str) -> ClassList:
    """The classes listed in a trainable-classes file, in that file's order.

    The file (``oidv6-classes-trainable.txt``, ``classes-trainable.txt``) has
    one MID a line; blank lines are skipped and whitespace around a MID is
    dropped.

    Args:
        classes (ClassList): The described classes (:func:`read_class_descriptions`).
        path (str): The trainable-classes file.

    Returns:
        ClassList: The listed classes, with ``described`` and ``source`` of
        ``classes``.

    Raises:
        ValueError: On a MID not described, or listed twice, naming the file
            and line(s).
    """
    name_of = dict(zip(classes.mids, classes.names))
    line_of: Dict[str, int] = {}
    with open(path, encoding='utf-8-sig') as f:
        for number, line in enumerate(f, 1):
            mid = line.strip()
            if not mid:
                continue
            if mid not in name_of:
                raise ValueError(f'{path}, line {number}: {mid!r} is not a LabelName of '
                                 f'{classes.source}; a trainable-classes file has one MID a line')
            if mid in line_of:
                raise ValueError(f'{path}, line {number}: {mid!r} is listed again (first on '
                                 f'line {line_of[mid]})')
            line_of[mid] = number
    if not line_of:
        raise ValueError(f'{path}: no class listed (one MID a line)')
    mids = tuple(line_of)
    return ClassList(mids, tuple(name_of[mid] for mid in mids), classes.described,
                     classes.source)


def read_classes(class_file: str, trainable_file: Optional[str] = None) -> ClassList:
    """The classes of a dataset: the trainable ones in their file's order, else every
    described class in the descriptions' order.

    Args:
        class_file (str): The class descriptions CSV.
        trainable_file (str, optional): The trainable-classes list.

    Returns:
        ClassList: The dataset's classes.
    """
    classes = read_class_descriptions(class_file)
    return classes if trainable_file is None else select_trainable(classes, trainable_file)


@dataclass(frozen=True)
class LabelSummary:
    """What reading a label file counted.

    Attributes:
        rows (int): Data rows read (blank lines not counted).
        skipped_rows (int): Rows of a described class that is not one of the
            dataset's (not trainable), left out as OpenImages' practice is.
        duplicate_rows (int): Rows repeating an earlier (image, class, confidence).
        unlabelled_images (int): Images whose every row was skipped: left out,
            as they have no label over the dataset's classes.
    """
    rows: int = 0
    skipped_rows: int = 0
    duplicate_rows: int = 0
    unlabelled_images: int = 0


@dataclass(frozen=True)
class ImageLabels:
    """The verified cells of N images as CSR arrays.

    Image ``i``'s verified cells are ``classes[offsets[i]:offsets[i + 1]]``
    (ascending) with ``values`` 1 (positive) or 0 (verified negative); every
    other cell of the image is unknown (-1).

    Attributes:
        image_ids (np.ndarray): (N,) ImageIDs, in the order of their first row
            in the file: ASCII bytes (a quarter of the memory of str) when every
            ID is ASCII, as OpenImages' are, else str. :meth:`image_id` gives a str.
        offsets (np.ndarray): (N + 1,) int64.
        classes (np.ndarray): Class indices of the verified cells, int32.
        values (np.ndarray): int8, 1 or 0, aligned with ``classes``.
        num_classes (int): C.
        first_lines (np.ndarray): (N,) int64, the line of each image's first
            row in the file (for messages).
        summary (LabelSummary): Counts of the read.
    """
    image_ids: np.ndarray
    offsets: np.ndarray
    classes: np.ndarray
    values: np.ndarray
    num_classes: int
    first_lines: np.ndarray
    summary: LabelSummary = field(default_factory=LabelSummary)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def image_id(self, i: int) -> str:
        return _text(self.image_ids[i])

    def cells(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """(class indices, values) of image ``i``'s verified cells."""
        start, end = self.offsets[i], self.offsets[i + 1]
        return self.classes[start:end], self.values[start:end]

    def scores(self, i: int) -> np.ndarray:
        """(C,) float32 target of image ``i``: 1 positive, 0 verified negative, -1 unknown."""
        classes, values = self.cells(i)
        score = np.full(self.num_classes, -1, dtype=np.float32)
        score[classes] = values
        return score

    def positives(self, i: int) -> np.ndarray:
        """Image ``i``'s positive class indices, ascending, int64."""
        classes, values = self.cells(i)
        return classes[values == 1].astype(np.int64)

    def positive_index(self) -> Tuple[np.ndarray, np.ndarray]:
        """(offsets (N + 1,) int64, class indices int64) of the positives of every image."""
        positive = self.values == 1
        ends = np.zeros(len(positive) + 1, dtype=np.int64)
        np.cumsum(positive, out=ends[1:])
        return ends[self.offsets], self.classes[positive].astype(np.int64)

    def select(self, indices: Union[Sequence[int], np.ndarray]) -> 'ImageLabels':
        """The images ``indices`` (in that order, repeats allowed), as a new table."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f'image index out of range [0, {len(self)}): '
                             f'{int(indices.min() if indices.min() < 0 else indices.max())}')
        starts = self.offsets[:-1][indices]
        lengths = self.offsets[1:][indices] - starts
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        cells = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return replace(self, image_ids=self.image_ids[indices], offsets=offsets,
                       classes=self.classes[cells], values=self.values[cells],
                       first_lines=self.first_lines[indices])


class _Lines:
    """Line numbers of the records of a CSV file read after a one-line header.

    While every record is one line (no quoted newline), record ``r`` (0-based,
    blank lines included) is on line ``r + 2``; otherwise the file is read again.
    """

    def __init__(self, path: str, reader) -> None:
        self.path, self.reader, self.records = path, reader, 0

    def of(self, records: np.ndarray) -> np.ndarray:
        records = np.asarray(records, dtype=np.int64)
        if self.reader.line_num == self.records + 1:
            return records + 2
        lines = array('q')
        with open(self.path, newline='', encoding='utf-8-sig') as f:
            reader = csv.reader(f)
            next(reader, None)
            for _ in reader:
                lines.append(reader.line_num)
        return np.frombuffer(lines, dtype=np.int64)[records]


def _check_header(path: str, header: Optional[List[str]]) -> None:
    if header is None:
        raise ValueError(f'{path}: the file is empty; expected the header '
                         f'"{",".join(LABELS_HEADER)}"')
    if header != LABELS_HEADER:
        raise ValueError(f'{path}, line 1: the header is "{",".join(header)}", expected '
                         f'"{",".join(LABELS_HEADER)}" (a human-verified image-level labels '
                         'file such as oidv6-train-annotations-human-imagelabels.csv)')


def _first_error(path: str, lines: _Lines, problems: List[Tuple[np.ndarray, Callable[[int], str]]],
                 records: np.ndarray) -> None:
    """Raise the problem of the earliest row: ``problems`` are (row mask, message of row)."""
    found = [(int(np.argmax(mask)), message) for mask, message in problems if mask.any()]
    if found:
        row, message = min(found, key=lambda item: item[0])
        line = int(lines.of(records[row:row + 1])[0])
        raise ValueError(f'{path}, line {line}: {message(row)}')


def _four_cells(path: str, lines: _Lines, block: List[List[str]],
                records: np.ndarray) -> Tuple[List[List[str]], np.ndarray]:
    """The block's rows and records without blank lines; ValueError on a row of another width."""
    width = np.fromiter(map(len, block), dtype=np.int64, count=len(block))
    if (width == 4).all():
        return block, records
    _first_error(path, lines, [((width != 4) & (width != 0), lambda r: (
        f'{width[r]} cells {block[r]!r}, expected 4: {",".join(LABELS_HEADER)}'))], records)
    filled = np.flatnonzero(width == 4)
    return [block[i] for i in filled.tolist()], records[filled]


def _text(image_id) -> str:
    return image_id.decode('ascii') if isinstance(image_id, bytes) else str(image_id)


def _id_array(ids: Sequence[str], ascii_ids: bool) -> Tuple[np.ndarray, bool]:
    """ImageIDs as a bytes array while every ID so far is ASCII (OpenImages' are hex), else
    str; and whether they still are all ASCII."""
    if ascii_ids:
        try:
            return np.array(ids, dtype=np.bytes_), True
        except UnicodeEncodeError:
            pass
    return np.array(ids, dtype=str), False


def _neighbours(keys: np.ndarray, part: int = 1 << 22) -> Tuple[np.ndarray, np.ndarray]:
    """For sorted ``keys``: (key i + 1 equals key i, bool; the i where key i + 1 is key i
    plus one), a slice at a time (no temporary as large as ``keys``)."""
    repeated = np.empty(max(len(keys) - 1, 0), dtype=bool)
    candidates = []
    for start in range(0, len(repeated), part):
        step = np.diff(keys[start:start + part + 1])
        np.equal(step, 0, out=repeated[start:start + len(step)])
        candidates.append(np.flatnonzero(step == 1) + start)
    return repeated, (np.concatenate(candidates) if candidates else np.zeros(0, np.int64))


def _drop_repeated(keys: np.ndarray, repeated: np.ndarray, part: int = 1 << 22) -> np.ndarray:
    """``keys`` without the keys equal to their predecessor, compacted in place a slice at a
    time (the writes never pass the reads)."""
    keep = np.ones(len(keys), dtype=bool)
    np.logical_not(repeated, out=keep[1:])
    written = 0
    for start in range(0, len(keys), part):
        kept = keys[start:start + part][keep[start:start + part]]
        keys[written:written + len(kept)] = kept
        written += len(kept)
    return keys[:written]


def _conflict(path: str, image_id: str, mid: str) -> ValueError:
    """The error for a cell given both confidences, with the two lines (a second read)."""
    seen: Dict[str, int] = {}
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if len(row) == 4 and row[0] == image_id and row[2] == mid:
                seen.setdefault(row[3], reader.line_num)
                if len(seen) == 2:
                    break
    (first, a), (second, b) = sorted(seen.items(), key=lambda item: item[1])
    return ValueError(f'{path}, lines {a} and {b}: image {image_id} and class {mid} are given '
                      f'Confidence {first} on line {a} and {second} on line {b}')


def read_image_labels(path: str, classes: ClassList) -> ImageLabels:
    """The verified cells of a human-verified image-level labels CSV.

    The header must be ``ImageID,Source,LabelName,Confidence``; every row is
    one verified cell, Confidence ``1`` (positive) or ``0`` (verified
    negative); ``Source`` is not used. A row of a described class that is not
    one of ``classes`` (not trainable) is skipped and counted; an image left
    with no row is left out. A row repeating an earlier one exactly is
    harmless (counted); the same cell with both confidences is an error.
    Blank lines are skipped.

    Images are in the order of their first row in the file (the file's own
    order, so a split keeps it); each image's cells are by ascending class
    index.

    Args:
        path (str): The labels CSV.
        classes (ClassList): The dataset's classes (:func:`read_classes`).

    Returns:
        ImageLabels: The CSR table, with a :class:`LabelSummary`.

    Raises:
        ValueError: On a wrong header (naming the header found and the one
            expected), a row without four cells, an empty ImageID, a
            Confidence other than 0 / 1, a LabelName not in the class
            descriptions (each naming the file and line), or a cell given
            both confidences (naming both lines).

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> def write(name, text):
        ...     with open(os.path.join(folder, name), 'w') as f:
        ...         _ = f.write(text)
        ...     return os.path.join(folder, name)
        >>> classes = read_class_descriptions(write('descriptions.csv',
        ...     '/m/cat,Cat\\n/m/dog,Dog\\n/m/car,Car\\n'))
        >>> labels = read_image_labels(write('labels.csv',
        ...     'ImageID,Source,LabelName,Confidence\\n'
        ...     'b1,verification,/m/dog,1\\nb1,verification,/m/cat,0\\n'
        ...     'a2,verification,/m/car,1\\n'), classes)
        >>> [labels.image_id(i) for i in range(len(labels))]  # first-appearance order
        ['b1', 'a2']
        >>> labels.offsets.tolist(), labels.classes.tolist(), labels.values.tolist()
        ([0, 2, 3], [0, 1, 2], [0, 1, 1])
        >>> labels.scores(0)  # cat verified absent, dog present, car unknown
        array([ 0.,  1., -1.], dtype=float32)
    """
    num_classes = len(classes)
    # LabelName -> class index; -1: described but not a class of the dataset (skipped)
    code_of = dict.fromkeys(classes.described, -1)
    code_of.update((mid, i) for i, mid in enumerate(classes.mids))
    span = 2 * num_classes  # key = image * span + class * 2 + value
    block_keys: List[np.ndarray] = []  # per block, the image part is an index into block_ids
    block_ids: List[np.ndarray] = []
    block_first: List[np.ndarray] = []  # record of each of block_ids' first row
    known_ids = rows = skipped = 0
    ascii_ids = True  # ImageIDs kept as bytes (a quarter of str's memory) while all are ASCII
    collecting = gc.isenabled()
    gc.disable()  # blocks of row lists: the cyclic collector would rescan them for nothing
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.reader(f)
            _check_header(path, next(reader, None))
            lines = _Lines(path, reader)
            while True:
                block = list(islice(reader, BLOCK_ROWS))
                if not block:
                    break
                records = np.arange(lines.records, lines.records + len(block), dtype=np.int64)
                lines.records += len(block)
                block, records = _four_cells(path, lines, block, records)
                if not block:
                    continue
                ids, _, mids, confidence = zip(*block)
                del block
                n = len(ids)
                rows += n
                value = np.fromiter(map(_CONFIDENCE.get, confidence, repeat(-1)),
                                    dtype=np.int8, count=n)
                code = np.fromiter(map(code_of.get, mids, repeat(-2)), dtype=np.int64, count=n)
                ids, ascii_ids = _id_array(ids, ascii_ids)
                if not ascii_ids and block_ids and block_ids[0].dtype.kind == 'S':
                    block_ids = [part.astype(str) for part in block_ids]
                _first_error(path, lines, [
                    (ids == ids.dtype.type(), lambda r: 'empty ImageID'),
                    (value < 0, lambda r: (
                        f'Confidence {confidence[r]!r}; a human-verified label is 1 (present) '
                        'or 0 (verified absent) (machine-generated label files, with scores, '
                        'are not read)')),
                    (code == -2, lambda r: (f'LabelName {mids[r]!r} is not in the class '
                                            f'descriptions {classes.source}')),
                ], records)
                kept = code >= 0
                skipped += n - int(np.count_nonzero(kept))
                # the rows of an image are usually consecutive: sort the run heads only
                head = np.ones(n, dtype=bool)
                np.not_equal(ids[1:], ids[:-1], out=head[1:])
                heads = np.flatnonzero(head)
                unique_ids, first, run_image = np.unique(ids[heads], return_index=True,
                                                         return_inverse=True)
                image = run_image.reshape(-1)[np.cumsum(head) - 1]
                block_ids.append(unique_ids)
                block_first.append(records[heads[first]])
                block_keys.append((image[kept] + known_ids) * span + code[kept] * 2
                                  + value[kept])
                known_ids += len(unique_ids)
    finally:
        if collecting:
            gc.enable()

    # one ImageID table over the blocks, in order of first appearance
    if block_ids:
        all_ids, pick, inverse = np.unique(np.concatenate(block_ids), return_index=True,
                                           return_inverse=True)
        first_records = np.concatenate(block_first)[pick]  # the earliest block's first row
    else:
        all_ids, inverse = np.zeros(0, dtype=np.bytes_), np.zeros(0, dtype=np.int64)
        first_records = np.zeros(0, dtype=np.int64)
    order = np.argsort(first_records, kind='stable')
    code = np.empty(len(all_ids), dtype=np.int64)
    code[order] = np.arange(len(all_ids))
    code_of_block_id = code[inverse.reshape(-1)]
    keys = np.empty(sum(len(k) for k in block_keys), dtype=np.int64)
    done = 0
    while block_keys:  # remap each block's keys to the final image codes, freeing as we go
        part = block_keys.pop(0)
        image, rest = np.divmod(part, span)
        keys[done:done + len(part)] = code_of_block_id[image] * span + rest
        done += len(part)
    keys.sort()

    # sorted keys: a repeated row is an equal neighbour; a cell given both confidences is a
    # neighbour one higher (the value is the lowest bit). Few temporaries: 57.5M rows in V6 train.
    repeated, candidates = _neighbours(keys)
    conflicts = candidates[(keys[candidates] & 1) == 0]
    if len(conflicts):
        image_code, class_index = divmod(int(keys[conflicts[0]]) >> 1, num_classes)
        raise _conflict(path, _text(all_ids[order[image_code]]), classes.mids[class_index])
    duplicates = int(np.count_nonzero(repeated))
    if duplicates:
        keys = _drop_repeated(keys, repeated)
    del repeated
    values = np.empty(len(keys), dtype=np.int8)
    np.bitwise_and(keys, 1, out=values, casting='unsafe')
    keys >>= 1
    class_index = np.empty(len(keys), dtype=np.int32)
    np.remainder(keys, num_classes, out=class_index, casting='unsafe')
    image = np.floor_divide(keys, num_classes, out=keys)
    del keys
    counts = np.bincount(image, minlength=len(all_ids))
    labelled = counts > 0
    offsets = np.zeros(int(np.count_nonzero(labelled)) + 1, dtype=np.int64)
    np.cumsum(counts[labelled], out=offsets[1:])
    return ImageLabels(
        image_ids=all_ids[order][labelled],
        offsets=offsets,
        classes=class_index,
        values=values,
        num_classes=num_classes,
        first_lines=lines.of(first_records[order][labelled]),
        summary=LabelSummary(rows=rows, skipped_rows=skipped, duplicate_rows=duplicates,
                             unlabelled_images=int(len(all_ids) - np.count_nonzero(labelled))))
