"""eqspike-xbar: EqSpike on memristive crossbars."""
__version__ = "0.1.0"
