"""Import the CIS export (CSV). Read csvfile.py (bytes to records) → rows.py (the rule for a
row) → stage.py (a table of checked rows) → customers.py / readings.py / payments.py (checks
across rows in SQL, the merge) → result.py (what the caller is told)."""

from .csvfile import ENCODINGS as ENCODINGS
from .csvfile import RowError as RowError
from .customers import import_customers as import_customers
from .payments import PAYMENT_COLUMNS as PAYMENT_COLUMNS
from .payments import import_payments as import_payments
from .readings import import_readings as import_readings
from .result import ImportResult as ImportResult
from .rows import CUSTOMER_COLUMNS as CUSTOMER_COLUMNS
from .rows import READING_COLUMNS as READING_COLUMNS
from .rows import READING_OPTIONAL as READING_OPTIONAL
