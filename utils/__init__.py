"""Shared helpers for the kit's notebooks and labs.

``from utils import setup_notebook`` is the first line of every notebook. Importing this
package does not import MLflow, so MLflow's environment is set before MLflow loads.
"""

from utils.notebook import Kit, setup_notebook

__all__ = ["Kit", "setup_notebook"]
