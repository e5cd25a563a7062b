import pytest

# Tiny points: ~0.1 s of training each, so the Dask tests measure the sweep, not the network.
TINY = {
    "learning.epochs": 2,
    "data.train_limit": 200,
    "network.layers": [64, 16, 10],
    "learning.lr": [0.1],
    "network.free_steps": 20,
    "network.readout_steps": 5,
}


def sweep_toml(axes: dict, extra_set: dict | None = None, name: str = "tiny") -> str:
    from eqspike_xbar.experiments.sweep_spec import toml_value

    lines = [f'name = "{name}"', "[set]"]
    lines += [f'"{k}" = {toml_value(v)}' for k, v in {**TINY, **(extra_set or {})}.items()]
    lines += ["[axes]"] + [f'"{k}" = {toml_value(v)}' for k, v in axes.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_sweep(tmp_path):
    def write(axes: dict, extra_set: dict | None = None, name: str = "sweep.toml"):
        p = tmp_path / name
        p.write_text(sweep_toml(axes, extra_set))
        return p

    return write
