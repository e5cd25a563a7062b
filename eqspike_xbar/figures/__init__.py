"""Every figure of the project, drawn from plain data (xarray Datasets, arrays, dicts).

One matplotlib set-up for all of them: the non-interactive Agg backend, selected here
before pyplot is imported; figure modules use ``from . import plt`` and return figures or
save them with :func:`eqspike_xbar.io.save_figure`. Domain packages never import matplotlib.

``training`` (learning curve of one run), ``report`` (the main job's comparison figures),
``stdp`` (the learning rule's STDP curve), ``devices`` (LTP/LTD curves, fits,
characterisation), ``programming`` (coincidence-programming measurements), ``sweep``
(sweep line plots and heat maps).
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt"]
