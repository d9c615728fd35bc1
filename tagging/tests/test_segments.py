"""Segments: SQL evaluation equals a brute-force evaluation in Python.

One population (customers, relations, tags, guides, stores, channels) is committed once for
the module; hypothesis generates definitions over it and each is evaluated both ways.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels_qr.models import Channel, LiveCode
from contacts.models import Customer, Guide, Relation, Store
from tagging.models import Tag, TagGroup
from tagging.segments import (
    MAX_DEPTH,
    SegmentError,
    segment_clean,
    segment_count,
    segment_customers,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY0 = date(2026, 9, 1)
DAYS = 60
STATES = ["", "", "ch_a1", "ch_a2", "ch_b1", "unknown_state"]
STATUSES = list(Relation.Status.values)


@dataclass
class Rel:
    guide_id: int
    store_id: int | None
    tags: set[str]
    status: str
    day: date
    state: str


@dataclass
class Person:
    gender: int
    type: int
    relations: list[Rel] = field(default_factory=list)


@dataclass
class Population:
    people: dict[int, Person]
    tag_ids: list[str]
    guide_ids: list[int]
    store_ids: list[int]
    channel_ids: list[int]
    channel_states: dict[int, set[str]]


@pytest.fixture(scope="module")
def population(django_db_setup, django_db_blocker):
    from conftest import _truncate_tenant_data

    rng = random.Random(20261123)
    with django_db_blocker.unblock(), schema_context("alpha"):
        groups = [TagGroup.objects.create(group_id=f"grp{i}", name=f"组{i}") for i in range(2)]
        tags = [
            Tag.objects.create(tag_id=f"et{i:02d}", group=groups[i % 2], name=f"标签{i}")
            for i in range(8)
        ]
        stores = [Store.objects.create(department_id=500 + i, name=f"店{i}") for i in range(3)]
        # store 2 has no guide; one guide has no store
        guides = [
            Guide.objects.create(userid=f"g{i}", name=f"导购{i}", store=stores[i % 2])
            for i in range(6)
        ] + [Guide.objects.create(userid="g_nostore", name="无店", store=None)]
        channels = [Channel.objects.create(name=n) for n in ("A", "B", "empty")]
        for state, channel in (("ch_a1", 0), ("ch_a2", 0), ("ch_b1", 1)):
            LiveCode.objects.create(channel=channels[channel], state=state)
        people: dict[int, Person] = {}
        for n in range(150):
            customer = Customer.objects.create(
                external_userid=f"wmSEG{n:05d}",
                name=f"客户{n}",
                gender=rng.choice([0, 1, 2]),
                type=rng.choice([1, 2]),
            )
            person = Person(gender=customer.gender, type=customer.type)
            for guide in rng.sample(guides, rng.choice([1, 1, 1, 2, 3])):
                added = datetime.combine(
                    DAY0 + timedelta(days=rng.randrange(DAYS)), datetime.min.time(), SHANGHAI
                ) + timedelta(minutes=rng.randrange(24 * 60))
                rel = Rel(
                    guide_id=guide.pk,
                    store_id=guide.store_id,
                    tags=set(rng.sample([t.tag_id for t in tags], rng.choice([0, 0, 1, 2, 3]))),
                    status=rng.choice(STATUSES[:1] * 4 + STATUSES),
                    day=added.date(),
                    state=rng.choice(STATES),
                )
                Relation.objects.create(
                    guide=guide,
                    customer=customer,
                    wecom_tag_ids=sorted(rel.tags),
                    status=rel.status,
                    added_at=added,
                    state=rel.state,
                )
                person.relations.append(rel)
            people[customer.pk] = person
        pop = Population(
            people=people,
            tag_ids=[t.tag_id for t in tags],
            guide_ids=[g.pk for g in guides],
            store_ids=[s.pk for s in stores],
            channel_ids=[c.pk for c in channels],
            channel_states={
                c.pk: set(c.live_codes.values_list("state", flat=True)) for c in channels
            },
        )
    yield pop
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        _truncate_tenant_data()


# --- the brute force --------------------------------------------------------------------


def holds(node: dict[str, Any], person: Person, pop: Population) -> bool:
    if "rules" in node:
        results = [holds(child, person, pop) for child in node["rules"]]
        if not results:  # an empty definition: every customer
            return True
        return all(results) if node["op"] == "and" else any(results)
    f, op, rels = node["field"], node["op"], person.relations
    if f == "tags":
        carried = set().union(*(r.tags for r in rels)) if rels else set()
        wanted = set(node["values"])
        return {
            "any": bool(carried & wanted),
            "all": wanted <= carried,
            "none": not carried & wanted,
        }[op]
    if f == "added":
        start = date.fromisoformat(node["from"]) if node["from"] else date.min
        end = date.fromisoformat(node["to"]) if node["to"] else date.max
        return any(start <= r.day <= end for r in rels)
    values = set(node["values"])
    if f == "gender":
        hit = person.gender in values
    elif f == "customer_type":
        hit = person.type in values
    elif f == "guide":
        hit = any(r.guide_id in values for r in rels)
    elif f == "store":
        hit = any(r.store_id in values for r in rels)
    elif f == "status":
        hit = any(r.status in values for r in rels)
    else:
        states = set().union(*(pop.channel_states[c] for c in values if c in pop.channel_states))
        hit = any(r.state in states for r in rels)
    return not hit if op == "not_in" else hit


def brute_force(definition: dict[str, Any], pop: Population) -> set[int]:
    return {pk for pk, person in pop.people.items() if holds(definition, person, pop)}


# --- generated definitions --------------------------------------------------------------

# Indexes into the population's lists, resolved once the population exists.
some = st.lists(st.integers(0, 7), min_size=1, max_size=3)


def leaf() -> st.SearchStrategy[dict[str, Any]]:
    def dates() -> st.SearchStrategy[str | None]:
        return st.one_of(
            st.none(), st.integers(-3, DAYS + 3).map(lambda d: (DAY0 + timedelta(d)).isoformat())
        )

    def added(pair: tuple[str | None, str | None]) -> dict[str, Any]:
        start, end = pair
        if start and end and start > end:
            start, end = end, start
        if start is None and end is None:
            start = DAY0.isoformat()
        return {"field": "added", "op": "between", "from": start, "to": end}

    return st.one_of(
        st.builds(
            lambda op, ix: {"field": "tags", "op": op, "values": [("tag", i) for i in ix]},
            st.sampled_from(["any", "all", "none"]),
            some,
        ),
        *[
            st.builds(
                lambda op, ix, f=f: {"field": f, "op": op, "values": [(f, i) for i in ix]},
                st.sampled_from(["in", "not_in"]),
                some,
            )
            for f in ("guide", "store", "channel")
        ],
        st.builds(
            lambda op, v: {"field": "status", "op": op, "values": v},
            st.sampled_from(["in", "not_in"]),
            st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2),
        ),
        st.builds(
            lambda op, v: {"field": "gender", "op": op, "values": v},
            st.sampled_from(["in", "not_in"]),
            st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=2),
        ),
        st.builds(
            lambda op, v: {"field": "customer_type", "op": op, "values": v},
            st.sampled_from(["in", "not_in"]),
            st.lists(st.sampled_from([1, 2]), min_size=1, max_size=1),
        ),
        st.tuples(dates(), dates()).map(added),
    )


definitions = st.recursive(
    leaf(),
    lambda children: st.builds(
        lambda op, rules: {"op": op, "rules": rules},
        st.sampled_from(["and", "or"]),
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=8,
).map(lambda node: node if "rules" in node else {"op": "and", "rules": [node]})


def resolve(node: dict[str, Any], pop: Population) -> dict[str, Any]:
    """Replace (kind, index) placeholders by the population's ids."""
    if "rules" in node:
        return {**node, "rules": [resolve(child, pop) for child in node["rules"]]}
    if "values" not in node:
        return node
    pools: dict[str, list[Any]] = {
        "tag": pop.tag_ids,
        "guide": pop.guide_ids,
        "store": pop.store_ids,
        "channel": pop.channel_ids,
    }
    values = [
        pools[v[0]][v[1] % len(pools[v[0]])] if isinstance(v, tuple) else v for v in node["values"]
    ]
    return {**node, "values": values}


def depth(node: dict[str, Any]) -> int:
    return 1 + max((depth(c) for c in node.get("rules", [])), default=0)


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=definitions)
def test_segment_results_equal_the_brute_force(population, raw):
    with schema_context("alpha"):
        try:
            definition = segment_clean(resolve(raw, population))
        except SegmentError:
            assert depth(raw) > MAX_DEPTH
            return
        expected = brute_force(definition, population)
        got = set(segment_customers(definition).values_list("pk", flat=True))
        assert got == expected, definition
        assert segment_count(definition) == len(expected)


@pytest.mark.django_db
def test_the_population_is_varied_enough(population):
    """Guard against a generator that makes every definition trivially true or false."""
    cases: list[tuple[dict[str, Any], int, int]] = [
        (one({"field": "tags", "op": "any", "values": ["et00"]}), 5, 60),
        (one({"field": "status", "op": "not_in", "values": ["active"]}), 10, 120),
        ({"op": "or", "rules": []}, 150, 150),
    ]
    with schema_context("alpha"):
        for raw, low, high in cases:
            definition = segment_clean(raw)
            assert low <= segment_count(definition) <= high
            assert segment_count(definition) == len(brute_force(definition, population))


def one(condition: dict[str, Any]) -> dict[str, Any]:
    return {"op": "and", "rules": [condition]}


def nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "gender", "op": "in", "values": [1]}
    for _ in range(levels):
        node = one(node)
    return node


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ([], "expected an object"),
        ({"op": "xor", "rules": []}, "“and” or “or”"),
        (one({"field": "height", "op": "in", "values": [1]}), "unknown field"),
        (one({"field": "tags", "op": "in", "values": ["x"]}), "any / all / none"),
        (one({"field": "guide", "op": "in", "values": []}), "at least one value"),
        (one({"field": "guide", "op": "in", "values": ["7"]}), "integer ids"),
        (one({"field": "status", "op": "in", "values": ["gone"]}), "unknown status"),
        (one({"field": "added", "op": "between", "from": "2026-13-01"}), "not a date"),
        (
            one({"field": "added", "op": "between", "from": "2026-02-01", "to": "2026-01-01"}),
            "after the end date",
        ),
        (one({"op": "or", "rules": []}), "needs a list of rules"),
        (nested(MAX_DEPTH + 1), "nest at most"),
    ],
)
def test_bad_definitions_say_where_and_why(definition, message):
    with pytest.raises(SegmentError, match=message):
        segment_clean(definition, check_exists=False)


@pytest.mark.django_db
def test_unknown_tags_are_refused_on_save_but_match_nobody_later(population):
    definition = {"op": "and", "rules": [{"field": "tags", "op": "any", "values": ["et_gone"]}]}
    with schema_context("alpha"):
        with pytest.raises(SegmentError, match="rules\\[0\\]: unknown tags: et_gone"):
            segment_clean(definition)
        assert segment_count(segment_clean(definition, check_exists=False)) == 0


@pytest.mark.django_db
def test_the_customers_list_filters_by_segment_and_by_tags(population):
    from contacts.selectors import CustomerFilters, customer_list
    from tagging.segments import segment_save

    definition = {
        "op": "or",
        "rules": [
            {"field": "tags", "op": "all", "values": ["et01", "et02"]},
            {"field": "gender", "op": "in", "values": [2]},
        ],
    }
    with schema_context("alpha"):
        segment = segment_save(segment=None, actor=None, name="女性或双标签", definition=definition)
        expected = brute_force(segment_clean(definition), population)
        assert segment.last_count == len(expected)

        listed = customer_list(CustomerFilters(segment_id=segment.pk))
        assert {c.pk for c in listed} == expected
        assert not customer_list(CustomerFilters(segment_id=segment.pk + 1000)).exists()

        tagged = customer_list(CustomerFilters(tag_ids=["et03", "et04"]))
        expected_tagged = brute_force(
            one({"field": "tags", "op": "any", "values": ["et03", "et04"]}), population
        )
        assert {c.pk for c in tagged} == expected_tagged
