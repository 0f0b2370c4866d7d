"""The stop order of `tickmesh up`: entry points first, Storage last, a stage at a time."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field

import pytest

from mesh import stop_order
from mesh.config import SERVICES
from mesh.stop_order import STOP_STAGES, stop_in_order, stop_stages


def test_every_service_has_exactly_one_stage() -> None:
    named = [service for stage in STOP_STAGES for service in stage]
    assert sorted(named) == sorted(SERVICES)


def test_entry_points_first_then_billing_and_ingestion_then_storage() -> None:
    assert [set(stage) for stage in stop_stages(SERVICES)] == [
        {"hub", "bridge", "workflow"},
        {"billing", "ingestion"},
        {"storage"},
    ]


def test_a_subset_keeps_the_order_and_drops_empty_stages() -> None:
    assert stop_stages(["storage", "bridge"]) == [["bridge"], ["storage"]]
    assert stop_stages(["storage", "extra"]) == [["extra"], ["storage"]]


@dataclass
class FakeProcess:
    """A child that exits on SIGTERM, unless it is stuck (then only SIGKILL ends it)."""

    service: str
    events: list[str]
    stuck: bool = False
    returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        assert sig == signal.SIGTERM
        self.events.append(f"term {self.service}")

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if self.stuck:
                raise subprocess.TimeoutExpired(self.service, timeout or 0)
            self.returncode = 0
            self.events.append(f"exit {self.service}")
        return self.returncode

    def kill(self) -> None:
        self.events.append(f"kill {self.service}")
        self.stuck, self.returncode = False, -signal.SIGKILL


@dataclass
class FakeChild:
    service: str
    process: FakeProcess
    exit_code: int | None = None


@dataclass
class Mesh:
    events: list[str] = field(default_factory=list)
    children: list[FakeChild] = field(default_factory=list)

    def add(self, service: str, *, stuck: bool = False) -> None:
        self.children.append(FakeChild(service, FakeProcess(service, self.events, stuck)))


def test_each_stage_exits_before_the_next_is_signalled() -> None:
    mesh = Mesh()
    for service in SERVICES:
        mesh.add(service)
    stop_in_order(mesh.children, grace_s=5.0)  # type: ignore[arg-type]
    # SERVICES order within a stage: hub, ingestion, bridge, storage, billing, workflow.
    assert mesh.events == [
        "term hub", "term bridge", "term workflow", "exit hub", "exit bridge", "exit workflow",
        "term ingestion", "term billing", "exit ingestion", "exit billing",
        "term storage", "exit storage",
    ]  # fmt: skip
    assert all(child.exit_code == 0 for child in mesh.children)


def test_a_child_outliving_its_grace_is_killed_before_the_next_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stop_order, "KILL_AFTER_GRACE_S", 0.0)
    mesh = Mesh()
    mesh.add("bridge", stuck=True)
    mesh.add("storage")
    stop_in_order(mesh.children, grace_s=0.0)  # type: ignore[arg-type]
    assert mesh.events == ["term bridge", "kill bridge", "term storage", "exit storage"]
    assert mesh.children[0].exit_code == -signal.SIGKILL


def test_a_further_bridge_process_stops_with_the_bridge() -> None:
    stages = stop_stages(["storage", "bridge-2", "hub", "bridge", "ingestion"])
    assert stages == [["bridge-2", "hub", "bridge"], ["ingestion"], ["storage"]]
