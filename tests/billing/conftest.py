import datetime

import pytest
import time_machine

JST = datetime.timezone(datetime.timedelta(hours=9))


@pytest.fixture
def new_year_2027():
    """Today is 2027-01-05, 09:00 in Japan: the periods of late 2026 have all ended and been read,
    so bills for them may be imported (a bill's period must have ended)."""
    with time_machine.travel(datetime.datetime(2027, 1, 5, 9, 0, tzinfo=JST), tick=False):
        yield
