"""Sources: the only code that touches the network or user files.

Each returns a raw `pandas.DataFrame` with a DatetimeIndex; `forecaster.data.frame.validate_frame`
turns it into something the rest of the pipeline can trust.
"""

from forecaster.data.sources.embedded import DATASETS, list_datasets, load_dataset
from forecaster.data.sources.files import load_file
from forecaster.data.sources.yahoo import fetch_prices

__all__ = ["DATASETS", "fetch_prices", "list_datasets", "load_dataset", "load_file"]
