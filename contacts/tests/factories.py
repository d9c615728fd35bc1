"""Factories for the contact book. Use inside schema_context("alpha") (or beta)."""

from datetime import timedelta

import factory
from django.utils import timezone

from contacts.models import (
    Customer,
    CustomerEvent,
    GroupChat,
    GroupChatMember,
    Guide,
    Relation,
    Store,
)


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    department_id = factory.Sequence(lambda n: 1000 + n)
    name = factory.Sequence(lambda n: f"门店{n}")


class GuideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guide

    userid = factory.Sequence(lambda n: f"guide{n:05d}")
    name = factory.Sequence(lambda n: f"导购{n}")
    store = factory.SubFactory(StoreFactory)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_userid = factory.Sequence(lambda n: f"wmTEST{n:010d}")
    name = factory.Sequence(lambda n: f"客户{n}")
    avatar = "https://wework.qpic.cn/avatar/0"


class RelationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Relation

    guide = factory.SubFactory(GuideFactory)
    customer = factory.SubFactory(CustomerFactory)
    added_at = factory.Sequence(lambda n: timezone.now() - timedelta(minutes=n))
    add_way = 1


class CustomerEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerEvent

    customer = factory.SubFactory(CustomerFactory)
    kind = CustomerEvent.Kind.ADDED
    occurred_at = factory.LazyFunction(timezone.now)


class GroupChatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupChat

    chat_id = factory.Sequence(lambda n: f"wrTEST{n:08d}")
    name = factory.Sequence(lambda n: f"客户群{n}")
    owner = factory.SubFactory(GuideFactory)
    owner_userid = factory.LazyAttribute(lambda o: o.owner.userid if o.owner else "")
    created_at = factory.LazyFunction(timezone.now)


class GroupChatMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupChatMember

    chat = factory.SubFactory(GroupChatFactory)
    kind = GroupChatMember.Kind.CUSTOMER
    userid = factory.Sequence(lambda n: f"wmMEMBER{n:08d}")
