"""quanhuiqi — enterprise profiles, provable policy eligibility, ranking and supply–demand matching.

The public API is re-exported here.  Importing the package is cheap: mlflow, lightgbm and
pyspark are imported only by the functions that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from quanhuiqi.tables.io import InputError, read_table, write_table

__all__ = [
    "InputError",
    "__version__",
    "read_table",
    "write_table",
]
