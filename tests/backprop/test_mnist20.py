"""mnist20: the central 20x20 pixels of MNIST (4 cut from every side), as Renner et al. 2024."""
import numpy as np

from eqspike_xbar.data import Dataset, Split, _crop


def test_crop_keeps_the_central_20x20():
    img = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28)
    split = Split(img.reshape(2, -1), np.array([3, 4]))
    ds = _crop(Dataset("mnist", split, Split(np.zeros((0, 784), np.float32), np.zeros(0, int)), split, 10, (28, 28)),
               "mnist20", 4)
    assert ds.n_inputs == 400 and ds.image_shape == (20, 20) and ds.name == "mnist20"
    np.testing.assert_array_equal(ds.train.x.reshape(2, 20, 20), img[:, 4:24, 4:24])
    assert len(ds.validation) == 0 and ds.validation.x.shape == (0, 400)
