"""Which customer an order or event belongs to: by external_userid, unionid or phone.

Keys are tried in that order and the first that names exactly one customer wins. A phone is
compared with the remark phone numbers guides entered (Relation.remark_mobiles) after both
are normalised (no spaces, dashes, brackets or +86 / 0086 prefix); a phone that two different
customers carry matches nobody, and the row says why (`ambiguous_phone`).

Every lookup is a batch: three queries for any number of keys, so a batch push, a CSV import
and the re-match cost the same few queries per chunk.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from contacts.models import Customer, Relation
from contacts.phones import customers_by_phone, phone_normalise
from orders.models import MatchedBy, MatchProblem

CHUNK = 2000


@dataclass(frozen=True)
class Keys:
    """The customer keys of one order or event; `phone` is normalised."""

    external_userid: str = ""
    unionid: str = ""
    phone: str = ""

    def __bool__(self) -> bool:
        return bool(self.external_userid or self.unionid or self.phone)


@dataclass(frozen=True)
class Match:
    customer_id: int | None
    matched_by: str = MatchedBy.NONE
    problem: str = MatchProblem.NOT_FOUND

    @property
    def matched(self) -> bool:
        return self.customer_id is not None


NO_MATCH = Match(None)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(values)
    for offset in range(0, len(values), CHUNK):
        yield values[offset : offset + CHUNK]


def customers_by_external_userid(external_userids: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(set(external_userids)):
        found.update(
            Customer.objects.filter(external_userid__in=chunk).values_list("external_userid", "pk")
        )
    return found


def customers_by_unionid(unionids: Iterable[str]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for chunk in _chunks(set(unionids)):
        for unionid, pk in Customer.objects.filter(unionid__in=chunk).values_list("unionid", "pk"):
            found[unionid].add(pk)
    return found


def matches_resolve(keys: Iterable[Keys]) -> dict[Keys, Match]:
    """The customer each set of keys names (at most three queries per 2,000 keys)."""
    wanted = {k for k in keys if k}
    by_euid = customers_by_external_userid(k.external_userid for k in wanted if k.external_userid)
    by_unionid = customers_by_unionid(k.unionid for k in wanted if k.unionid)
    by_phone = customers_by_phone(k.phone for k in wanted if k.phone)
    answer: dict[Keys, Match] = {}
    for k in wanted:
        answer[k] = _match(k, by_euid, by_unionid, by_phone)
    return answer


def _match(
    keys: Keys,
    by_euid: dict[str, int],
    by_unionid: dict[str, set[int]],
    by_phone: dict[str, set[int]],
) -> Match:
    if keys.external_userid in by_euid:
        return Match(by_euid[keys.external_userid], MatchedBy.EXTERNAL_USERID, MatchProblem.NONE)
    unionid_customers = by_unionid.get(keys.unionid, set()) if keys.unionid else set()
    if len(unionid_customers) == 1:
        return Match(next(iter(unionid_customers)), MatchedBy.UNIONID, MatchProblem.NONE)
    phone_customers = by_phone.get(keys.phone, set()) if keys.phone else set()
    if len(phone_customers) == 1:
        return Match(next(iter(phone_customers)), MatchedBy.PHONE, MatchProblem.NONE)
    if len(phone_customers) > 1:
        return Match(None, MatchedBy.NONE, MatchProblem.AMBIGUOUS_PHONE)
    if len(unionid_customers) > 1:
        return Match(None, MatchedBy.NONE, MatchProblem.AMBIGUOUS_UNIONID)
    return NO_MATCH


def customer_keys(customer_ids: Iterable[int]) -> tuple[set[str], set[str], set[str]]:
    """The external_userids, unionids and normalised remark phones of these customers: what
    an unmatched row may carry to be theirs."""
    ids = sorted(set(customer_ids))
    external_userids: set[str] = set()
    unionids: set[str] = set()
    phones: set[str] = set()
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        for external_userid, unionid in Customer.objects.filter(pk__in=chunk).values_list(
            "external_userid", "unionid"
        ):
            external_userids.add(external_userid)
            if unionid:
                unionids.add(unionid)
        for mobiles in Relation.objects.filter(customer_id__in=chunk).values_list(
            "remark_mobiles", flat=True
        ):
            phones.update(p for p in map(phone_normalise, mobiles) if p)
    return external_userids, unionids, phones
