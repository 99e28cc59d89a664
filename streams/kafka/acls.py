"""Kafka ACLs for leadscore's principals, derived from the topic registry.

The worker may read its inputs and internal topics, write its outputs and internal topics,
create and use its own changelog and Faust topics (named `<app_id>-...`), use its consumer
group and (exactly_once) its transactional ids: nothing else. `leadscore kafka acls ROLE`
prints the same list as `kafka-acls.sh` commands for a real cluster; the local secured
broker (`leadscore kafka up --secure`) grants it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest

from schemas import topics
from streams.kafka.admin import admin_client
from streams.settings import Settings


# The protocol's codes (org.apache.kafka.common.resource / acl); aiokafka has no names.
class ResourceType(IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class PatternType(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8


ALLOW = 3  # AclPermissionType.ALLOW


@dataclass(frozen=True)
class Acl:
    """Allow `operation` on a resource (a name, or a name prefix) from any host."""

    resource: ResourceType
    name: str
    operation: Operation
    pattern: PatternType = PatternType.LITERAL

    def kafka_acls_args(self) -> str:
        """The same rule as `kafka-acls.sh --add` arguments (principal and bootstrap aside)."""
        flag = {
            ResourceType.TOPIC: f"--topic '{self.name}'",
            ResourceType.GROUP: f"--group '{self.name}'",
            ResourceType.CLUSTER: "--cluster",
            ResourceType.TRANSACTIONAL_ID: f"--transactional-id '{self.name}'",
        }[self.resource]
        pattern = (
            " --resource-pattern-type prefixed" if self.pattern is PatternType.PREFIXED else ""
        )
        return f"{flag}{pattern} --operation {self.operation.name.title()}"


ROLES = ("worker", "operator")


def worker_acls(settings: Settings) -> list[Acl]:
    """What a worker needs, by topic direction in the registry (schemas/topics.py)."""
    read = [*topics.INPUTS, topics.SEGMENT, topics.MODEL, topics.RESCORE]
    read += [topics.VISITORS, topics.CONTRIBUTIONS]
    # Inputs too: the Segment agent translates onto them.
    write = [*topics.INPUTS, *topics.OUTPUTS, topics.RESCORE, topics.VISITORS]
    write += [topics.CONTRIBUTIONS]
    acls = [Acl(ResourceType.TOPIC, settings.topic(t), Operation.READ) for t in read]
    acls += [Acl(ResourceType.TOPIC, settings.topic(t), Operation.WRITE) for t in write]
    own = settings.app_id  # Faust's changelogs and leader topic: `<app_id>-...`
    acls += [
        Acl(ResourceType.TOPIC, f"{own}-", op, PatternType.PREFIXED)
        for op in (Operation.CREATE, Operation.READ, Operation.WRITE, Operation.DESCRIBE)
    ]
    acls.append(Acl(ResourceType.GROUP, own, Operation.READ))
    acls += [
        Acl(ResourceType.TRANSACTIONAL_ID, own, op, PatternType.PREFIXED)
        for op in (Operation.WRITE, Operation.DESCRIBE)
    ]
    return acls


def operator_acls(settings: Settings) -> list[Acl]:
    """The tools' principal (`topics create`, `simulate`, `tail`, `model publish`): every
    operation on the contract topics, none on the worker's group or changelogs."""
    return [Acl(ResourceType.TOPIC, settings.topic(t), Operation.ALL) for t in topics.ALL]


def role_acls(role: str, settings: Settings) -> list[Acl]:
    if role == "worker":
        return worker_acls(settings)
    if role == "operator":
        return operator_acls(settings)
    raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")


class AclError(RuntimeError):
    """The broker refused to create an ACL."""


async def grant(settings: Settings, principal: str, acls: list[Acl]) -> None:
    """Create the ACLs for `principal` (e.g. `User:worker`), connecting with `settings` (a
    principal allowed to alter the cluster's ACLs). Creating an existing ACL is a no-op."""
    async with admin_client(settings) as admin:
        for acl in acls:
            request = CreateAclsRequest(
                acl.resource, acl.name, acl.pattern, principal, "*", acl.operation, ALLOW
            )
            # aiokafka's admin client has no ACL call yet: its request, through its sender.
            response = await admin._send_request(request)
            for code, message in response.creation_responses:
                if code:
                    name = for_code(code).__name__
                    raise AclError(f"cannot grant {acl} to {principal}: {name} {message or ''}")
