"""Compare what a resident typed with the utility's contract (signup and added contracts)."""

from __future__ import annotations

from collections.abc import Callable

from billing.models import Customer
from portal import normalize
from portal.models import Utility

# Matching ---------------------------------------------------------------------------------


def _same(normalise: Callable[[str], str], typed: str, on_contract: str) -> bool:
    typed = normalise(typed)
    return bool(typed) and typed == normalise(on_contract)


def match_contract(
    utility: Utility,
    number: str,
    name: str = "",
    phone: str = "",
    address: str = "",
    name_kana: str = "",
    customer: Customer | None = None,
) -> dict:
    """Compare typed values with the utility's contract of that number (or ``customer``).

    Returns ``{"customer_id", "number", "name", "phone", ...}``: the contract found (or
    None) and, for each item the utility asks, whether it matches after normalising. Where
    the name is a nickname (seed 003's 「お名前(ニックネームでも登録いただけます)」) it is no
    evidence and is left out; the kana name stands for the holder.
    """
    number = normalize.digits(number)
    if customer is None:
        customer = Customer.objects.filter(utility=utility, number=number).order_by().first()
    if customer is None:
        result = {"customer_id": None, "number": False, "name": False, "phone": False}
        if utility.asks_address:
            result["address"] = False
        if utility.asks_kana:
            result["name_kana"] = False
        return _without_nickname(utility, result)
    result = {
        "customer_id": customer.pk,
        "number": number == customer.number,
        "name": _same(normalize.without_spaces, name, customer.name),
        "phone": _same(normalize.phone, phone, customer.phone),
    }
    if utility.asks_address:
        result["address"] = _same(normalize.address, address, customer.address)
    if utility.asks_kana:
        result["name_kana"] = _same(normalize.kana_key, name_kana, customer.name_kana)
    return _without_nickname(utility, result)


def _without_nickname(utility: Utility, result: dict) -> dict:
    if utility.name_is_nickname:
        result.pop("name", None)
    return result


def identity_matches(utility: Utility, match: dict) -> bool:
    """Tell whether number, phone and name (kana where the utility asks it) all match."""
    name_key = "name_kana" if utility.asks_kana else "name"
    return bool(match.get("number") and match.get("phone") and match.get(name_key))


def match_summary(match: dict) -> dict:
    return {key: value for key, value in match.items() if key != "customer_id"}
