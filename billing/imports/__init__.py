"""Import the CIS export (CSV): contracts, then meter readings. Read top to bottom:

csvfile.py (bytes to numbered records) → rows.py (the rule for a row) → stage.py (a temporary
table of checked rows) → customers.py / readings.py (checks across rows in SQL, the merge)
→ result.py (what the caller is told).
"""

from .csvfile import ENCODINGS, RowError
from .customers import import_customers
from .readings import import_readings
from .result import ImportResult
from .rows import CUSTOMER_COLUMNS, READING_COLUMNS, READING_OPTIONAL

__all__ = [
    "CUSTOMER_COLUMNS",
    "ENCODINGS",
    "READING_COLUMNS",
    "READING_OPTIONAL",
    "ImportResult",
    "RowError",
    "import_customers",
    "import_readings",
]
