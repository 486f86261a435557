"""The checks of each lab, one module per lab (``labNN.py``), built on ``utils.checks``."""
