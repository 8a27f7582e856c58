"""Signals billing sends for apps above it (billing imports none of them).

``customers_imported``: contracts new to the portal were committed by an import of contracts
(``import_customers``, the admin's upload alike); sent once per utility after the commit, with
``utility`` and ``numbers`` (the new customer numbers). ``moving`` links the members waiting
for those numbers.
"""

from django.dispatch import Signal

customers_imported = Signal()
