"""Commands of the domain packages: ``crossbar``, ``device`` and ``program``.

Each module provides ``register(subparsers)`` (listed in :data:`eqspike_xbar.cli.COMMAND_MODULES`
beside the experiments' commands ``run``, ``train``, ``stdp`` and ``sweep``); argparse, run
folders and figures are handled here, the domain packages below only compute.
"""
