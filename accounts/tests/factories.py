import factory

from accounts.models import APIKey, AuditLogEntry, User
from accounts.services import api_key_create

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"operator{n}")
    role = User.Role.OPERATOR
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def persist(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AuditLogEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLogEntry

    action = "settings.changed"
    actor_type = AuditLogEntry.ActorType.SYSTEM
    actor_label = "system"


def make_api_key(scope: str = APIKey.Scope.READ, name: str = "ERP") -> tuple[APIKey, str]:
    return api_key_create(name=name, scope=scope, created_by=None)


def bearer(raw_key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
