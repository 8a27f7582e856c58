"""Japanese date formats for the admin's own fields, as accounts.models.japanese_time writes
a time (「2026年12月6日 12:26」): Django's own ja format runs the date into the hour
(「2026年12月6日12:26」) and drops the hour's zero. Everything else is Django's ja format."""

DATETIME_FORMAT = "Y年n月j日 H:i"
SHORT_DATETIME_FORMAT = "Y/m/d H:i"
