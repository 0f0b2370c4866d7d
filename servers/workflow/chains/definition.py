"""What makes a chain definition valid, and rendering a step's request: plain functions
over the contracts' descriptors, without gRPC.

A step names a contract service and a unary method of it; its request is a JSON
template whose "{{param}}" placeholders take the run's parameters, each JSON-escaped,
so a value can never break out of its string. Registration renders every template
with the declared samples and parses it into the method's request type, so a chain
that registers is one whose requests parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from tickmesh.workflow.v1 import chains_pb2

# Imported for their side effect: each registers its contract in the default pool.
from tickmesh.billing.v1 import billing_pb2  # noqa: F401  # isort: skip
from tickmesh.bridge.v1 import bridge_pb2  # noqa: F401  # isort: skip
from tickmesh.ingestion.v1 import ingestion_pb2  # noqa: F401  # isort: skip
from tickmesh.storage.v1 import storage_pb2  # noqa: F401  # isort: skip

from mesh.config import SERVICES
from mesh.errors import FieldViolation, InvalidArgument, PermissionDenied
from mesh.protoconv import tier_from_proto
from mesh.tiers import Tier

NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
STEP_OUTPUT = re.compile(r"steps\.(\d+)\.[A-Za-z0-9_.]+")
SAMPLE_OUTPUT = "1"
"""What an earlier step's output stands in for when a template is validated."""
MAX_STEPS = 20
MAX_TEMPLATE = 8192
TIER_ORDER = (Tier.FREE, Tier.PRO, Tier.ENTERPRISE)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a step's call goes: the mesh service, the method path and its types."""

    mesh_service: str
    path: str
    method: MethodDescriptor

    def request_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    def response_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)


def target(service: str, method: str) -> Target:
    """The step's call target; INVALID_ARGUMENT when it is no unary method of ours."""
    try:
        found = descriptor_pool.Default().FindServiceByName(service)
    except KeyError:
        raise InvalidArgument(
            f"unknown service {service!r}", violations=[FieldViolation("service", "unknown")]
        ) from None
    mesh_service = service.split(".")[1] if service.startswith("tickmesh.") else ""
    if mesh_service not in SERVICES:
        raise InvalidArgument(
            f"{service} is not served by a mesh service",
            violations=[FieldViolation("service", "a tickmesh service")],
        )
    descriptor = found.methods_by_name.get(method)
    if descriptor is None:
        raise InvalidArgument(
            f"{service} has no method {method!r}",
            violations=[FieldViolation("method", "unknown")],
        )
    if descriptor.client_streaming or descriptor.server_streaming:
        raise InvalidArgument(
            f"{service}/{method} streams; a step calls unary methods only",
            violations=[FieldViolation("method", "must be unary")],
        )
    return Target(mesh_service, f"/{service}/{method}", descriptor)


def render(template: str, parameters: dict[str, str]) -> str:
    """`template` with each "{{name}}" replaced by its JSON-escaped value (inside quotes
    it stays a string; bare, a number or a bool must be valid JSON by itself)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            raise InvalidArgument(
                f"parameter {name!r} has no value",
                violations=[FieldViolation(f"parameters.{name}", "required")],
            )
        return json.dumps(parameters[name])[1:-1]

    return PLACEHOLDER.sub(value, template)


def request(step: chains_pb2.ChainStep, parameters: dict[str, str]) -> Message:
    """The step's request message for `parameters`; INVALID_ARGUMENT if it does not parse."""
    message = target(step.service, step.method).request_class()()
    text = render(step.request_template, parameters) if step.request_template else "{}"
    try:
        json_format.Parse(text, message)
    except json_format.ParseError as exc:
        raise InvalidArgument(
            f"step {step.name!r}: the request does not parse: {exc}",
            violations=[FieldViolation("request_template", str(exc)[:200])],
        ) from None
    return message


def validate(chain: chains_pb2.ChainDefinition) -> None:
    """INVALID_ARGUMENT naming every problem of a definition to register."""
    problems: list[FieldViolation] = []
    if not NAME.fullmatch(chain.name) or len(chain.name) > 64:
        problems.append(FieldViolation("name", "lower-case words joined by '-', 1-64 chars"))
    if not 1 <= len(chain.steps) <= MAX_STEPS:
        problems.append(FieldViolation("steps", f"1 to {MAX_STEPS} steps"))
    declared = dict(chain.parameters)
    for index, step in enumerate(chain.steps):
        where = f"steps[{index}]"
        if step.sla_ms < 0 or step.cost_units < 0:
            problems.append(FieldViolation(where, "sla_ms and cost_units must be >= 0"))
        if len(step.request_template) > MAX_TEMPLATE:
            problems.append(FieldViolation(f"{where}.request_template", "at most 8 KiB"))
            continue
        samples = dict(declared)
        for used in PLACEHOLDER.findall(step.request_template):
            output = STEP_OUTPUT.fullmatch(used)
            if output is not None and int(output.group(1)) < index:
                samples[used] = SAMPLE_OUTPUT
            elif used not in declared:
                problems.append(
                    FieldViolation(f"{where}.request_template", f"undeclared parameter {used!r}")
                )
        try:
            request(step, samples)
        except InvalidArgument as exc:
            problems += [
                FieldViolation(f"{where}.{v.field}", v.description) for v in exc.violations
            ]
    if problems:
        raise InvalidArgument(
            f"invalid chain: {', '.join(p.field for p in problems)}", violations=problems
        )


def check_tier(chain: chains_pb2.ChainDefinition, tier: Tier) -> None:
    """PERMISSION_DENIED naming the cheapest tier that may run `chain`, when `tier` may not."""
    allowed = {tier_from_proto(t) for t in chain.allowed_tiers}
    if not allowed or tier in allowed:
        return
    cheapest = next(t for t in TIER_ORDER if t in allowed)
    raise PermissionDenied(
        f"chain {chain.name!r} is not in tier {tier.value}; tier {cheapest.value} includes it",
        required_tier=cheapest.value,
    )


def response_json(message: Message, limit: int = 2000) -> str:
    """A response as compact JSON, cut to `limit` characters."""
    text = json_format.MessageToJson(message, indent=None)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def earlier_outputs(responses: list[str]) -> dict[str, str]:
    """The earlier steps' responses flattened to template parameters:
    {"steps.0.company.companyId": "..."}, lists by index."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(f"{prefix}.{i}", inner)
        else:
            out[prefix] = value if isinstance(value, str) else json.dumps(value)

    for index, text in enumerate(responses):
        walk(f"steps.{index}", json.loads(text) if text else {})
    return out
