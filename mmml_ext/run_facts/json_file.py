"""Reading and writing the small JSON files of run facts: atomic writes, errors that name the file."""
import json
import os
import os.path as osp
from typing import Any


def write_json(path: str, data: Any) -> str:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file); returns ``path``."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
    return path


def read_json(path: str, missing: str) -> Any:
    """The JSON content of ``path``; FileNotFoundError with ``missing`` appended, ValueError if not JSON."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: {missing}')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f'{path} is not JSON: {error}') from error
