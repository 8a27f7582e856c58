"""Multi-step work of the accounts app, one module per flow.

- ``signup``: the signup pipeline shared by the link and code styles (③ to ⑧).
- ``matching``: typed values against the utility's contract.
- ``review``: staff approval and rejection.

The public names are gathered here so callers write ``services.start_signup(...)``.
"""

from ..ratelimit import RateLimited
from .matching import identity_matches, match_contract
from .review import (
    AlreadyReviewed,
    ContractNotFound,
    ContractRequired,
    NotAllowed,
    ReviewError,
    approve_member,
    choose_contract,
    reject_member,
)
from .signup import (
    SIGNUP_DETAILS_SESSION_KEY,
    SIGNUP_DONE_SESSION_KEY,
    SIGNUP_ISSUERS,
    SIGNUP_LINK_SESSION_KEY,
    SIGNUP_SESSION_KEY,
    EmailTaken,
    LinkExpired,
    LinkInvalid,
    LinkUsed,
    LoginIdTaken,
    MailNotSent,
    SignupError,
    SignupNotStarted,
    complete_signup,
    confirm_signup_link,
    count_signup_attempt,
    mark_email_verified,
    save_signup_details,
    saved_signup_details,
    signup_email,
    start_signup,
    stash_signup_link,
    verified_email,
    verify_signup_email,
)

__all__ = [
    "RateLimited",
    "identity_matches",
    "match_contract",
    "AlreadyReviewed",
    "ContractNotFound",
    "ContractRequired",
    "NotAllowed",
    "ReviewError",
    "approve_member",
    "choose_contract",
    "reject_member",
    "SIGNUP_DETAILS_SESSION_KEY",
    "SIGNUP_DONE_SESSION_KEY",
    "SIGNUP_ISSUERS",
    "SIGNUP_LINK_SESSION_KEY",
    "SIGNUP_SESSION_KEY",
    "EmailTaken",
    "LinkExpired",
    "LinkInvalid",
    "LinkUsed",
    "LoginIdTaken",
    "MailNotSent",
    "SignupError",
    "SignupNotStarted",
    "complete_signup",
    "confirm_signup_link",
    "count_signup_attempt",
    "mark_email_verified",
    "save_signup_details",
    "saved_signup_details",
    "signup_email",
    "stash_signup_link",
    "start_signup",
    "verified_email",
    "verify_signup_email",
]
