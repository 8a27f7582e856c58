"""Multi-step work of the accounts app, one module per flow; callers import the module.

- ``signup``: the signup pipeline shared by the link and code styles (③ to ⑧).
- ``recovery``: forgotten login ID or password (secret question, reset link or code).
- ``profile``: the member's own settings (会員情報), added contracts and withdrawal.
- ``review``: staff approval and rejection of members and of added contracts.

They share ``base`` (mail errors, the staff-readable record, "not started"), ``matching``
(typed values against a contract) and ``contracts`` (linking, the family cap), and never
import each other. Links and codes are ``accounts.challenges``.
"""
