"""Data sets: scikit-learn's 8x8 digits (embedded default), MNIST and Fashion-MNIST (IDX files).

``mnist20`` is MNIST reduced to 20x20 = 400 inputs as in Renner et al. (Nat. Commun. 15:9691,
2024; the authors' code, lanl/spikingBackprop ``load_mnist(sidelen=20, crop=4)``): the central
20x20 pixels, i.e. 4 pixels cropped on every side of the 28x28 images (the rescale to 20x20 that
follows the crop there is the identity). Same files, splits and [0, 1] scaling as ``mnist``.

Pixel values are scaled to [0, 1] (they are the clamped input states of the network).
Splits are deterministic functions of the seed:

* digits (1797 images): a seeded stratified split into train / validation / test;
* MNIST, Fashion-MNIST: the official 10 000-image test set; a seeded ``validation_size``
  images of the 60 000 training images are held out for validation.

IDX files are looked up, in this order, in the ``data_dir`` given in the config or on the
command line, in ``$EQSPIKE_XBAR_DATA/<name>/``, in the user cache
(``~/.cache/eqspike_xbar/<name>/``) and, for Fashion-MNIST, where Debian's
``dataset-fashion-mnist`` package puts them. If none has them and a network is reachable,
they are downloaded into the cache. Every file is checked by the md5 of its *decompressed*
content, so the original ``.gz`` files, Debian's recompressed ones and unpacked files all
pass, and a corrupt file never does.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

log = logging.getLogger(__name__)

_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# md5 of the decompressed IDX content (measured on the md5-verified originals: MNIST from
# yann.lecun.com's .gz files, Fashion-MNIST from Debian's dataset-fashion-mnist package).
_MD5 = {
    "mnist": {
        "train_images": "6bbc9ace898e44ae57da46a324031adb",
        "train_labels": "a25bea736e30d166cdddb491f175f624",
        "test_images": "2646ac647ad5339dbf082846283269ea",
        "test_labels": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
        "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
        "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
_SYSTEM_DIRS = {"fashion_mnist": ["/usr/share/datasets/fashion-mnist"], "mnist": []}
_DIRNAMES = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}

DATASETS = ("digits", "mnist", "mnist20", "fashion_mnist")
_CROPPED = {"mnist20": ("mnist", 4)}  # name: (IDX data set, pixels cropped on every side)


@dataclass
class Split:
    """Images as float32 in [0, 1], shape (n, n_pixels); labels as int64, shape (n,)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Dataset:
    name: str
    train: Split
    validation: Split
    test: Split
    n_classes: int
    image_shape: tuple

    @property
    def n_inputs(self) -> int:
        return self.train.x.shape[1]


def load_dataset(
    name: str,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    validation_size: int | None = None,
    test_fraction: float = 0.2,
    download: bool = True,
) -> Dataset:
    """Load ``name`` ('digits', 'mnist', 'mnist20', 'fashion_mnist') with a split determined by ``seed``."""
    if name in _CROPPED:
        base, crop = _CROPPED[name]
        ds = load_dataset(base, seed, data_dir, validation_size, test_fraction, download)
        return _crop(ds, name, crop)
    if name == "digits":
        return _load_digits(seed, validation_size if validation_size is not None else 180, test_fraction)
    if name in _MD5:
        return _load_idx_dataset(name, seed, data_dir, 5000 if validation_size is None else validation_size, download)
    raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")


def _crop(ds: Dataset, name: str, crop: int) -> Dataset:
    """``ds`` with ``crop`` pixels cut from every side of its images."""
    h, w = ds.image_shape
    shape = (h - 2 * crop, w - 2 * crop)

    def cut(split: Split) -> Split:
        x = split.x.reshape(len(split.x), h, w)[:, crop : h - crop, crop : w - crop]
        return Split(np.ascontiguousarray(x.reshape(len(x), shape[0] * shape[1])), split.y)

    return Dataset(name, cut(ds.train), cut(ds.validation), cut(ds.test), ds.n_classes, shape)


def _stratified_split(y: np.ndarray, n_take: int, rng: np.random.Generator):
    """Indices (take, rest): ``n_take`` examples with class proportions of ``y``."""
    take = []
    classes, counts = np.unique(y, return_counts=True)
    quota = np.floor(counts / len(y) * n_take).astype(int)
    order = np.argsort(-(counts / len(y) * n_take - quota))
    quota[order[: n_take - quota.sum()]] += 1
    for c, q in zip(classes, quota):
        idx = np.flatnonzero(y == c)
        take.append(rng.choice(idx, size=q, replace=False))
    take = np.sort(np.concatenate(take))
    rest = np.setdiff1d(np.arange(len(y)), take)
    return take, rest


def _load_digits(seed: int, validation_size: int, test_fraction: float) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    n_test = int(round(test_fraction * len(y)))
    if not 0 < n_test < len(y) or not 0 <= validation_size < len(y) - n_test:
        raise DataError(
            f"digits has {len(y)} images: test_fraction {test_fraction} and validation_size "
            f"{validation_size} leave no training data"
        )
    rng = np.random.default_rng([seed, 0xD161])
    test_idx, rest = _stratified_split(y, n_test, rng)
    val_local, train_local = _stratified_split(y[rest], validation_size, rng)
    val_idx, train_idx = rest[val_local], rest[train_local]
    return Dataset(
        "digits",
        Split(x[train_idx], y[train_idx]),
        Split(x[val_idx], y[val_idx]),
        Split(x[test_idx], y[test_idx]),
        10,
        (8, 8),
    )


def _candidate_dirs(name: str, data_dir) -> list[Path]:
    dirs: list[Path] = []
    sub = _DIRNAMES[name]
    if data_dir:
        dirs += [Path(data_dir), Path(data_dir) / sub]
    env = os.environ.get("EQSPIKE_XBAR_DATA")
    if env:
        dirs += [Path(env) / sub, Path(env)]
    dirs.append(_cache_dir(name))
    dirs += [Path(p) for p in _SYSTEM_DIRS[name]]
    return dirs


def _cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eqspike_xbar" / _DIRNAMES[name]


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / (stem + ".gz"), directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _read_verified(path: Path, md5: str) -> bytes:
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path} cannot be read ({exc}); delete it and put an intact copy there") from None
    digest = hashlib.md5(data).hexdigest()
    if digest != md5:
        raise DataError(
            f"{path} is corrupt (md5 of its content {digest}, expected {md5}); replace it with the original file"
        )
    return data


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: header says {tuple(dims)}, found {arr.size} bytes of data")
    return arr.reshape(dims)


def _download(name: str, key: str, target: Path) -> bool:
    url = _URLS[name] + _FILES[key] + ".gz"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        log.info("downloading %s", url)
        with urllib.request.urlopen(url, timeout=30) as resp, open(tmp, "wb") as fh:
            fh.write(resp.read())
        os.replace(tmp, target)
        return True
    except OSError as exc:
        log.debug("download of %s failed: %s", url, exc)
        return False


def idx_paths(name: str, data_dir=None, download: bool = True) -> dict[str, Path]:
    """Locate (or download) the four IDX files of ``name``; raise DataError saying where to put them."""
    dirs = _candidate_dirs(name, data_dir)
    found: dict[str, Path] = {}
    for key, stem in _FILES.items():
        for d in dirs:
            p = _find_file(d, stem)
            if p is not None:
                found[key] = p
                break
    missing = [k for k in _FILES if k not in found]
    if missing and download:
        cache = _cache_dir(name)
        for key in missing:
            target = cache / (_FILES[key] + ".gz")
            if _download(name, key, target):
                found[key] = target
        missing = [k for k in _FILES if k not in found]
    if missing:
        where = data_dir or "a folder"
        raise DataError(
            f"{name} not found: put {', '.join(_FILES[k] + '[.gz]' for k in missing)} into {where} "
            f"(pass --data-dir DIR or set EQSPIKE_XBAR_DATA; searched {', '.join(str(d) for d in dirs)})"
        )
    return found


def _load_idx_dataset(name: str, seed: int, data_dir, validation_size: int, download: bool) -> Dataset:
    paths = idx_paths(name, data_dir, download)
    arrays = {k: _parse_idx(_read_verified(p, _MD5[name][k]), p) for k, p in paths.items()}
    x_train = arrays["train_images"].reshape(len(arrays["train_images"]), -1).astype(np.float32) / 255.0
    x_test = arrays["test_images"].reshape(len(arrays["test_images"]), -1).astype(np.float32) / 255.0
    y_train = arrays["train_labels"].astype(np.int64)
    y_test = arrays["test_labels"].astype(np.int64)
    if not 0 <= validation_size < len(y_train):
        raise DataError(f"validation_size {validation_size} must be in [0, {len(y_train)})")
    rng = np.random.default_rng([seed, 0x1D8])
    perm = rng.permutation(len(y_train))
    val_idx, train_idx = np.sort(perm[:validation_size]), np.sort(perm[validation_size:])
    return Dataset(
        name,
        Split(x_train[train_idx], y_train[train_idx]),
        Split(x_train[val_idx], y_train[val_idx]),
        Split(x_test, y_test),
        10,
        tuple(arrays["train_images"].shape[1:]),
    )
