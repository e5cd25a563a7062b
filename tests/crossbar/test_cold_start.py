"""Cold start of a crossbar read: ``crossbar solve`` loads neither MKL nor the experiment stack
for a small array, and the zero-ohm merges need no graph library."""
import subprocess
import sys

import numpy as np
import pytest

from eqspike_xbar.crossbar.topology import components


def test_crossbar_solve_imports_only_what_a_read_needs():
    code = ("import sys; from eqspike_xbar.cli import main; main(['crossbar', 'solve', '--rows', '32']); "
            "print(sorted(m for m in ('pypardiso', 'xarray', 'pandas', 'matplotlib', 'scipy.sparse.csgraph', "
            "'eqspike_xbar.spice', 'eqspike_xbar.crossbar.tiling') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("spec", ["", "r_wordline_ohm=0.0"], ids=["line-by-line", "superlu"])
def test_small_array_first_reads_load_no_mkl_then_pardiso_on_reuse(spec):
    """A new pattern's first two reads: line by line (linear, finite wires) or SuperLU (shorted
    word lines: the sparse model merges them); PARDISO from the third."""
    code = ("import numpy as np; from eqspike_xbar.crossbar import FastCrossbar, CrossbarSpec; "
            "from eqspike_xbar.crossbar import linalg; import sys; rng = np.random.default_rng(0); "
            "v = rng.uniform(0, 0.2, (1, 16)); loaded = []\n"
            "for k in range(3):\n"
            f"    FastCrossbar(rng.uniform(1e-6, 1e-4, (16, 16)), CrossbarSpec({spec})).read(v)\n"
            "    loaded.append(linalg.mkl_loaded())\n"
            "print(loaded, linalg._mkl() is not False)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    loaded = [x.strip("[],") == "True" for x in out[:3]]
    pardiso_available = out[-1] == "True"
    assert loaded[:2] == [False, False]  # one-off small reads (e.g. both directions) do not load MKL
    assert loaded[2] == pardiso_available  # the pattern's third factorisation does


@pytest.mark.parametrize("seed", range(5))
def test_components_label_each_node_with_its_components_smallest_id(seed):
    rng = np.random.default_rng(seed)
    n = 200
    a = rng.integers(0, n, 120)
    b = rng.integers(0, n, 120)
    if seed == 0:  # long chains (0-ohm wires along a line)
        a = np.arange(n - 1)
        b = a + 1
    label = components(n, a, b)
    # brute force: grow each component from its smallest id
    ref = np.arange(n)
    for _ in range(n):
        lo = np.minimum(ref[a], ref[b])
        new = ref.copy()
        np.minimum.at(new, a, lo)
        np.minimum.at(new, b, lo)
        if np.array_equal(new, ref):
            break
        ref = new
    np.testing.assert_array_equal(label, ref)
