"""Expand configs times a grid of settings into named runs, for ``tools/sweep.py``.

``--grid model.head.loss.gamma_neg=2,4`` on two configs gives four runs; each
run's directory name says its config and grid values
(``resnet18_shapes-lt_asl_gamma_neg-2``), so a finished sweep can be read and
resumed from the directory names alone. Values stay strings: they reach
``tools/train.py`` as ``--cfg-options KEY=VALUE``, parsed there exactly as a
user's own ``--cfg-options`` would be.

``--seeds 0,1,2`` runs every setting once per training seed
(``randomness.seed``), in directories ``<name>_seed-<s>``; each run records its
setting and seed in its state file, so that a comparison groups the seeds of a
setting (never by parsing names: a grid value may end in ``_seed-1`` too).
"""
import itertools
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

_UNSAFE = re.compile(r'[^A-Za-z0-9.+-]+')
#: The ending of a run name that says its training seed.
SEED_SUFFIX = '_seed-'
#: The config key a run's seed sets.
SEED_KEY = 'randomness.seed'


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    Attributes:
        name (str): Directory name under the sweep's work root.
        config (str): Config file path.
        grid (dict): The grid settings of this run, key -> value string.
        cfg_options (list[str]): Settings shared by all runs, ``KEY=VALUE``.
        seed (int, optional): The training seed (``randomness.seed``), or
            None for the config's own.
        setting (str): The name of the run's setting: its name without the
            seed. Defaults to ``name``.
    """
    name: str
    config: str
    grid: Dict[str, str] = field(default_factory=dict)
    cfg_options: Tuple[str, ...] = ()
    seed: Optional[int] = None
    setting: str = ''

    def __post_init__(self) -> None:
        if not self.setting:
            object.__setattr__(self, 'setting', self.name)

    def options(self) -> List[str]:
        """All ``KEY=VALUE`` settings of the run: the shared ones, the grid's, the seed."""
        seed = [] if self.seed is None else [f'{SEED_KEY}={self.seed}']
        return [*self.cfg_options, *(f'{key}={value}' for key, value in self.grid.items()),
                *seed]

    def settings(self) -> dict:
        """What makes two runs of one name the same run (stored in its state file)."""
        settings = dict(config=osp.normpath(self.config), grid=dict(self.grid),
                        cfg_options=list(self.cfg_options))
        if self.seed is not None:
            settings.update(seed=self.seed, setting=self.setting)
        return settings


def split_values(text: str) -> List[str]:
    """Split ``V1,V2,...`` at the commas outside brackets and quotes.

    Examples:
        >>> split_values('0.5,[1,2],"a,b"')
        ['0.5', '[1,2]', '"a,b"']
    """
    values, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char in '([':
            depth += 1
        elif char in ')]':
            depth -= 1
        elif char == ',' and depth == 0:
            values.append(text[start:i])
            start = i + 1
    values.append(text[start:])
    if depth != 0 or quote:
        raise ValueError(f'unbalanced brackets or quotes in grid values {text!r}')
    return [value.strip() for value in values]


def parse_grid(items: Sequence[str]) -> Dict[str, List[str]]:
    """``['KEY=V1,V2', ...]`` -> ``{KEY: [V1, V2]}``, each KEY once, each value non-empty."""
    grid: Dict[str, List[str]] = {}
    for item in items:
        key, sep, text = item.partition('=')
        key = key.strip()
        if not sep or not key:
            raise ValueError(f'--grid takes KEY=V1,V2,..., got {item!r}')
        if key in grid:
            raise ValueError(f'--grid names {key!r} twice')
        values = split_values(text)
        if any(not value for value in values):
            raise ValueError(f'--grid {item!r} has an empty value')
        if len(set(values)) != len(values):
            raise ValueError(f'--grid {item!r} repeats a value')
        grid[key] = values
    return grid


def short_keys(keys: Sequence[str]) -> Dict[str, str]:
    """For each key, its shortest dotted tail that no other key ends with.

    Examples:
        >>> short_keys(['model.head.loss.gamma', 'optim_wrapper.optimizer.lr'])
        {'model.head.loss.gamma': 'gamma', 'optim_wrapper.optimizer.lr': 'lr'}
    """
    short = {}
    for key in keys:
        parts = key.split('.')
        for n in range(1, len(parts) + 1):
            tail = '.'.join(parts[-n:])
            if not any(other != key and ('.' + other).endswith('.' + tail) for other in keys):
                break
        short[key] = tail
    return short


def run_name(config: str, grid: Dict[str, str], short: Dict[str, str]) -> str:
    """``<config stem>[_<short key>-<value>...]``, safe as a directory name."""
    stem = osp.splitext(osp.basename(config))[0]
    parts = [f'{short[key]}-{_UNSAFE.sub("_", value).strip("_") or "_"}'
             for key, value in grid.items()]
    return '_'.join([stem, *parts])


def has_parent(cfg: Config, key: str) -> bool:
    """Whether the dict that a dotted key sets a value in exists in the config
    (list items by index): ``model.head.loss.gamma`` needs ``model.head.loss``."""
    node = cfg.to_dict()
    for part in key.split('.')[:-1]:
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return isinstance(node, dict)


def parse_seeds(text: Optional[str]) -> List[Optional[int]]:
    """``'0,1,2'`` -> ``[0, 1, 2]``; None (no ``--seeds``) -> ``[None]`` (the config's seed)."""
    if text is None:
        return [None]
    try:
        seeds = [int(value) for value in split_values(text)]
    except ValueError:
        raise ValueError(f'--seeds takes integers S1,S2,..., got {text!r}') from None
    if len(set(seeds)) != len(seeds) or any(seed < 0 for seed in seeds):
        raise ValueError(f'--seeds must be distinct integers >= 0, got {text!r}')
    return seeds


def plan_runs(configs: Sequence[str], grid_items: Sequence[str] = (),
              cfg_options: Sequence[str] = (),
              seeds: Sequence[Optional[int]] = (None, )) -> List[RunSpec]:
    """Every config times every combination of grid values (times every seed), as named runs.

    Args:
        configs (Sequence[str]): Config files.
        grid_items (Sequence[str]): ``KEY=V1,V2`` items; their product is run
            for every config.
        cfg_options (Sequence[str]): ``KEY=VALUE`` settings for every run (not
            part of the run names).
        seeds (Sequence[int]): Training seeds; each setting runs once per
            seed, in ``<name>_seed-<s>``. Defaults to the config's own seed.

    Returns:
        list[RunSpec]: In config order, then grid order, then seed order.

    Raises:
        FileNotFoundError: A config does not exist.
        ValueError: Bad grid syntax, a grid key whose parent a config does
            not have (a typo would otherwise add an unused setting and run the
            same experiment twice), or two runs with one name.
    """
    grid = parse_grid(grid_items)
    short = short_keys(list(grid))
    for option in cfg_options:
        if '=' not in option:
            raise ValueError(f'--cfg-options takes KEY=VALUE, got {option!r}')
        if option.split('=', 1)[0].strip() == SEED_KEY and seeds != (None, ):
            raise ValueError(f'give the seeds with --seeds, not --cfg-options {option}')
    if SEED_KEY in grid and seeds != (None, ):
        raise ValueError(f'give the seeds with --seeds or with --grid {SEED_KEY}=..., not both')
    runs, seen = [], {}
    for config in configs:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config {config} does not exist')
        if grid:
            cfg = Config.fromfile(config)
            missing = [key.rsplit('.', 1)[0] for key in grid if not has_parent(cfg, key)]
            if missing:
                raise ValueError(f'{config} has no {", ".join(missing)}: a grid key must set '
                                 'a value inside a part that the config has (a typo in the '
                                 'path would otherwise add an unused setting)')
        for values in itertools.product(*grid.values()):
            combo = dict(zip(grid, values))
            setting = run_name(config, combo, short)
            for seed in seeds:
                name = setting if seed is None else f'{setting}{SEED_SUFFIX}{seed}'
                spec = RunSpec(name, config, combo, tuple(cfg_options), seed, setting)
                if spec.name in seen:
                    raise ValueError(f'two runs would share the name {spec.name!r}: '
                                     f'{seen[spec.name]} and {config}; give the configs '
                                     'different file names')
                seen[spec.name] = config
                runs.append(spec)
    return runs
