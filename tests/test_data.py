"""Data sets: deterministic seeded splits, IDX parsing, md5 verification."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from eqspike_xbar import data
from eqspike_xbar.errors import DataError

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def test_digits_split_is_deterministic_disjoint_and_stratified():
    a = data.load_dataset("digits", seed=0)
    b = data.load_dataset("digits", seed=0)
    c = data.load_dataset("digits", seed=1)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.array_equal(a.test.x, c.test.x)
    assert len(a.train) + len(a.validation) + len(a.test) == 1797
    assert (len(a.validation), len(a.test)) == (180, 359)
    rows = {r.tobytes() for r in a.train.x}
    # the digits set has a few duplicate images; the splits share (almost) none of their rows
    assert sum(r.tobytes() in rows for r in a.test.x) <= 3
    counts = np.bincount(a.test.y, minlength=10)
    assert counts.min() >= 33 and counts.max() <= 38
    assert a.train.x.dtype == np.float32 and 0 <= a.train.x.min() and a.train.x.max() <= 1


def _write_idx(path: Path, arr: np.ndarray, gz: bool):
    header = bytes([0, 0, 8, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    raw = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    import hashlib

    return hashlib.md5(raw).hexdigest()


def test_idx_loader_split_and_md5(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    md5 = {}
    for key, stem, shape in [("train_images", "train-images-idx3-ubyte", (50, 4, 4)),
                             ("train_labels", "train-labels-idx1-ubyte", (50,)),
                             ("test_images", "t10k-images-idx3-ubyte", (20, 4, 4)),
                             ("test_labels", "t10k-labels-idx1-ubyte", (20,))]:
        arr = rng.integers(0, 10 if "labels" in key else 256, size=shape)
        md5[key] = _write_idx(tmp_path / (stem + (".gz" if "images" in key else "")), arr, gz="images" in key)
    monkeypatch.setitem(data._MD5, "mnist", md5)
    ds = data.load_dataset("mnist", seed=3, data_dir=tmp_path, validation_size=10, download=False)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (40, 10, 20)
    assert ds.train.x.shape == (40, 16) and ds.train.x.max() <= 1.0 and ds.image_shape == (4, 4)
    # corrupt one file: named in the error, never loaded
    p = tmp_path / "t10k-labels-idx1-ubyte"
    raw = bytearray(p.read_bytes())
    raw[-1] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is corrupt"):
        data.load_dataset("mnist", seed=3, data_dir=tmp_path, validation_size=10, download=False)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown data set 'svhn'"):
        data.load_dataset("svhn")


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="MNIST files not at ../shared/data/mnist (only on project machines)")
def test_real_mnist_from_shared_folder():
    ds = data.load_dataset("mnist", seed=0, data_dir=SHARED_MNIST, download=False)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (55000, 5000, 10000)
    assert ds.n_inputs == 784 and set(np.unique(ds.test.y)) == set(range(10))
