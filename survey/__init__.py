"""dmarc-survey: measure how the Internet authenticates mail (DMARC, SPF, DKIM)."""

from pathlib import Path

__version__ = "0.1.0"

#: The repository's `data/` folder: the public suffix list and the report vendor table.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
