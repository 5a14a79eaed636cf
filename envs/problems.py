"""Problem sources: where an environment's problems come from, addressed by index or task id.

A source is random-access: ``source[i]`` is problem ``i`` (a fresh ``dict`` each call, so callers
may mutate it), ``len(source)`` the number of problems, ``source.index_of(task_id)`` the inverse
of ``source.task_id(i)``. ``source.fingerprint`` identifies the data (a content hash), so results
can name the exact dataset version they were computed on.

Kinds (see :func:`as_source`): a list of dicts, a JSONL file (optionally ``.gz``), any local file
or folder ``datasets.load_dataset`` can read (JSON, CSV, Parquet, Arrow, ...), a ``datasets``
object, or a procedural generator ``(rng) -> dict``. Procedural item ``i`` is generated from its
own ``numpy`` Generator seeded with ``blake2b(seed, split, i)``: items are random-access and the
streams of different seeds or splits are independent (``Random(seed + i)`` would make the
datasets of neighbouring seeds overlap, shifted by one).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Number of items of a procedural source when no ``size`` is given (effectively unbounded).
PROCEDURAL_SIZE = 2**62

#: File suffixes read by ``datasets.load_dataset`` with the named builder.
_DATASETS_BUILDERS = {
    ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".arrow": "arrow", ".txt": "text",
}


def _item_state(seed: int, split: str, index: int) -> dict:
    """PCG64 state and stream of one item, straight from a 256-bit blake2b of (seed, split, index)."""
    digest = hashlib.blake2b(f"{seed}\x1f{split}\x1f{index}".encode(), digest_size=32).digest()
    state, inc = int.from_bytes(digest[:16], "little"), int.from_bytes(digest[16:], "little") | 1
    return {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}


def item_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The RNG of procedural item ``index``: a hash of (seed, split, index), not ``seed + index``."""
    bit_generator = np.random.PCG64(0)
    bit_generator.state = _item_state(seed, split, index)
    return np.random.Generator(bit_generator)


def _hash_json(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ProblemSource:
    """Random-access problems. Subclasses implement ``__len__``, ``_get``, ``task_id``, ``index_of``."""

    name: str = "problems"
    fingerprint: str = ""

    def __len__(self) -> int:
        raise NotImplementedError

    def _get(self, index: int) -> dict:
        raise NotImplementedError

    def task_id(self, index: int) -> str:
        raise NotImplementedError

    def index_of(self, task_id: str) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        n = len(self)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"problem index must be an int, got {type(index).__name__}")
        if not 0 <= index < n:
            raise IndexError(f"problem index {index} out of range: {self.name} has {n} problems (0..{n - 1})")
        return self._get(int(index))

    def first(self) -> dict:
        """Problem 0, used to validate prompt templates early."""
        return self[0]


class ListSource(ProblemSource):
    """Problems held in memory as a list of dicts (also the backend of files and datasets)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], *, id_field: str = "task_id",
                 name: str = "problems", fingerprint: str | None = None, required: Sequence[str] = ()):
        self.rows: list[dict] = []
        for n, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise TypeError(f"{name}: problem {n} must be a dict, got {type(row).__name__}")
            self.rows.append(dict(row))
        if not self.rows:
            raise ValueError(f"{name}: no problems (the list, file or dataset is empty)")
        self.name = name
        self.id_field = id_field
        _check_required(self.rows, required, name)
        self._ids = [self._make_id(i, row) for i, row in enumerate(self.rows)]
        self._index: dict[str, int] = {}
        for i, tid in enumerate(self._ids):
            if tid in self._index:
                raise ValueError(f"{name}: duplicate {id_field} {tid!r} (problems {self._index[tid]} and {i})")
            self._index[tid] = i
        self.fingerprint = fingerprint or _hash_json(self.rows)

    def _make_id(self, index: int, row: dict) -> str:
        value = row.get(self.id_field)
        return str(value) if value is not None else f"{self.name}/{index}"

    def __len__(self) -> int:
        return len(self.rows)

    def _get(self, index: int) -> dict:
        return dict(self.rows[index])  # a fresh top level; nested values are shared, do not mutate them

    def task_id(self, index: int) -> str:
        return self._ids[index]

    def index_of(self, task_id: str) -> int:
        try:
            return self._index[str(task_id)]
        except KeyError:
            raise KeyError(f"unknown task_id {task_id!r} in {self.name} (e.g. {self._ids[0]!r})") from None


def _check_required(rows: list[dict], required: Sequence[str], name: str) -> None:
    """Fail early, naming the field and the row, when a problem lacks a required field."""
    for n, row in enumerate(rows):
        missing = [f for f in required if f not in row]
        if missing:
            raise ValueError(
                f"{name}: problem {n} is missing field(s) {missing}; it has {sorted(row)}. "
                f"Every problem needs {list(required)}."
            )


class ProceduralSource(ProblemSource):
    """Problems generated on demand by ``generator(rng) -> dict``, item ``i`` from ``item_rng``."""

    def __init__(self, generator: Callable[[np.random.Generator], Mapping[str, Any]], *, seed: int = 0,
                 split: str = "train", size: int | None = None, name: str | None = None,
                 required: Sequence[str] = ()):
        if not callable(generator):
            raise TypeError(f"procedural generator must be callable (rng) -> dict, got {type(generator).__name__}")
        if size is not None and (not isinstance(size, int) or size < 1):
            raise ValueError(f"size must be a positive int (number of procedural problems), got {size!r}")
        self.generator = generator
        self.seed = int(seed)
        self.split = str(split)
        self.size = size or PROCEDURAL_SIZE
        self.required = tuple(required)
        self.name = name or getattr(generator, "__name__", "procedural")
        self._bit_generator = np.random.PCG64(0)  # re-stated per item: building one costs ~50 us
        self._rng = np.random.Generator(self._bit_generator)
        self.fingerprint = _hash_json([_callable_identity(generator), self.seed, self.split, self.size])

    def __len__(self) -> int:
        return self.size

    def _get(self, index: int) -> dict:
        self._bit_generator.state = _item_state(self.seed, self.split, index)  # == item_rng(seed, split, index)
        row = self.generator(self._rng)
        if not isinstance(row, Mapping):
            raise TypeError(f"procedural generator {self.name} must return a dict, got {type(row).__name__}")
        row = dict(row)
        if self.required and not all(f in row for f in self.required):
            _check_required([row], self.required, f"{self.name} (item {index})")
        return row

    def task_id(self, index: int) -> str:
        return f"{self.name}/{self.split}/{self.seed}/{index}"

    def index_of(self, task_id: str) -> int:
        prefix = f"{self.name}/{self.split}/{self.seed}/"
        tail = str(task_id).removeprefix(prefix)
        if tail == str(task_id) or not tail.isdigit() or int(tail) >= self.size:
            raise KeyError(f"unknown task_id {task_id!r}: ids of this source look like {prefix}<index>")
        return int(tail)


def _callable_identity(fn: Callable) -> str:
    """Name plus source hash of a generator, so the fingerprint changes when its code does.

    Callable objects (not functions) are identified by their class and ``repr``, which should
    therefore be stable and name their configuration.
    """
    extra = ""
    if isinstance(fn, functools.partial):
        extra = repr(fn.args) + repr(sorted(fn.keywords.items()))
        fn = fn.func
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn)
    if target is not fn:
        extra += repr(fn)
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"
    try:
        src = inspect.getsource(target)
    except (OSError, TypeError):
        src = ""
    return f"{name}:{hashlib.sha256((src + extra).encode()).hexdigest()[:12]}"


def read_jsonl(path: str | Path) -> tuple[list[dict], str]:
    """Rows of a JSONL file (``.gz`` allowed) and the sha256 prefix of its bytes."""
    path = Path(path)
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg}); each line must be one JSON object") from e
    return rows, hashlib.sha256(raw).hexdigest()[:16]


def load_with_datasets(path: str | Path, split: str = "train") -> tuple[list[dict], str]:
    """Rows of any local file or folder ``datasets.load_dataset`` reads (or a ``save_to_disk`` folder)."""
    try:
        import datasets  # lazy: optional dependency, ~0.9 s to import; only this loader needs it
    except ImportError as e:
        raise ImportError(f"reading {path} needs the `datasets` package: pip install 'sppo-gym[datasets]'") from e
    path = Path(path)
    if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(path))
    elif path.is_dir():
        ds = datasets.load_dataset(str(path))
    else:
        builder = _DATASETS_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(
                f"data={str(path)!r}: unknown file type {path.suffix!r}; use .jsonl or one of "
                f"{sorted(_DATASETS_BUILDERS)} (read with datasets.load_dataset)"
            )
        kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        ds = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    return dataset_rows(ds, split)


def dataset_rows(ds: Any, split: str = "train") -> tuple[list[dict], str]:
    """Rows and fingerprint of a ``datasets.Dataset`` or one split of a ``DatasetDict``."""
    if isinstance(getattr(ds, "column_names", None), dict):  # a DatasetDict: pick the split
        if split not in ds:
            raise ValueError(f"split={split!r} not in the dataset; it has splits {sorted(ds.keys())}")
        ds = ds[split]
    return [dict(r) for r in ds], str(getattr(ds, "_fingerprint", "") or "")[:16]


def as_source(problems: Any, *, split: str = "train", seed: int = 0, size: int | None = None,
              id_field: str = "task_id", required: Sequence[str] = (), name: str | None = None) -> ProblemSource:
    """Build a :class:`ProblemSource` from any supported kind of ``problems`` (see module docstring)."""
    if isinstance(problems, ProblemSource):
        return problems
    if isinstance(problems, (str, Path)):
        path = Path(problems).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"data={str(problems)!r}: no such file or folder")
        label = name or path.name.split(".")[0]
        if path.is_file() and (path.suffix == ".jsonl" or path.name.endswith(".jsonl.gz")):
            rows, fp = read_jsonl(path)
        else:
            rows, fp = load_with_datasets(path, split)
        return ListSource(rows, id_field=id_field, name=label, fingerprint=fp, required=required)
    if hasattr(problems, "column_names"):  # a datasets.Dataset / DatasetDict
        rows, fp = dataset_rows(problems, split)
        return ListSource(rows, id_field=id_field, name=name or "dataset", fingerprint=fp or None,
                          required=required)
    if isinstance(problems, Sequence) and not isinstance(problems, (str, bytes)):
        return ListSource(problems, id_field=id_field, name=name or "problems", required=required)
    if callable(problems):
        return ProceduralSource(problems, seed=seed, split=split, size=size, name=name, required=required)
    raise TypeError(
        "problems must be a JSONL/dataset path, a list of dicts, a datasets.Dataset, or a callable "
        f"(rng) -> dict; got {type(problems).__name__}"
    )
