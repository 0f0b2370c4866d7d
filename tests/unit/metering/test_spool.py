"""The usage spool: durable append/ack, restart, torn tails, compaction, one process per file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.metering import spool as spool_module
from mesh.metering.spool import Spool, SpoolLocked, spool_dir


def test_append_ack_and_restart_resends_only_unacknowledged(tmp_path: Path) -> None:
    folder = spool_dir(tmp_path, "bridge")
    spool = Spool(folder)
    ids = [spool.append(f"batch-{i}".encode()) for i in range(4)]
    assert ids == sorted(ids)
    spool.ack(ids[1])
    spool.ack(ids[1])  # acknowledging twice is harmless
    assert list(spool.pending()) == [
        (ids[0], b"batch-0"),
        (ids[2], b"batch-2"),
        (ids[3], b"batch-3"),
    ]
    spool.close()

    reopened = Spool(folder)
    assert [i for i, _ in reopened.pending()] == [ids[0], ids[2], ids[3]]
    newer = reopened.append(b"batch-4")
    assert newer > ids[3]  # ids keep increasing across restarts
    for batch_id in reopened.pending_ids():
        reopened.ack(batch_id)
    assert len(reopened) == 0
    assert reopened.size_bytes == 0  # fully acknowledged: the file starts over
    reopened.close()
    assert list(Spool(folder).pending()) == []


@pytest.mark.parametrize("cut", [1, 5, 8, 12, 20])
def test_a_torn_last_record_is_ignored_and_cut_off(tmp_path: Path, cut: int) -> None:
    spool = Spool(tmp_path)
    first = spool.append(b"complete batch")
    spool.append(b"x" * 100)
    spool.close()
    path = tmp_path / "main.log"
    whole = path.stat().st_size
    # SIGKILL mid-append: only part of the last record reached the disk.
    os.truncate(path, whole - 100 - 17 + cut)

    reopened = Spool(tmp_path)
    assert list(reopened.pending()) == [(first, b"complete batch")]
    later = reopened.append(b"after the crash")
    reopened.close()
    assert [p for _, p in Spool(tmp_path).pending()] == [b"complete batch", b"after the crash"]
    assert later > first


def test_a_corrupt_last_record_fails_its_crc(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(b"good")
    spool.append(b"flipped")
    spool.close()
    path = tmp_path / "main.log"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert [p for _, p in Spool(tmp_path).pending()] == [b"good"]


def test_compaction_keeps_pending_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "COMPACT_BYTES", 4096)
    spool = Spool(tmp_path)
    keep = spool.append(b"k" * 500)
    for i in range(40):
        spool.ack(spool.append(bytes([i]) * 200))
    assert spool.size_bytes < 4096 + 300  # rewritten, not grown to ~10 kB
    assert list(spool.pending()) == [(keep, b"k" * 500)]
    spool.close()
    assert list(Spool(tmp_path).pending()) == [(keep, b"k" * 500)]


def test_one_process_per_spool_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(SpoolLocked):
        Spool(tmp_path)
    other = Spool(tmp_path, "replica-2")  # another replica: its own file
    other.close()
    spool.close()
    Spool(tmp_path).close()  # the lock is released on close


def test_dead_letter_keeps_the_batch_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    batch_id = spool.append(b"refused")
    target = spool.dead_letter(batch_id)
    assert target.read_bytes() == b"refused"
    assert list(spool.pending()) == []
    spool.close()


_WRITER = """
import sys
from pathlib import Path
from mesh.metering.spool import Spool

spool = Spool(Path(sys.argv[1]))
i = 0
while True:
    batch_id = spool.append(b"%08d" % i * 64)
    print(batch_id, i, flush=True)  # printed only once the append is durable
    i += 1
"""


def test_sigkill_mid_stream_loses_no_appended_batch(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None
        durable = [writer.stdout.readline().split() for _ in range(200)]
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    reopened = Spool(tmp_path)  # the lock died with the process
    pending = dict(reopened.pending())
    for batch_id, i in durable:
        assert pending[int(batch_id)] == b"%08d" % int(i) * 64
    assert all(p == p[:8] * 64 for p in pending.values())  # nothing torn survives
    reopened.close()


def test_with_a_summary_the_history_survives_compaction_and_reopening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "SETTLED_COMPACT_BYTES", 2048)
    acknowledged: list[bytes] = []
    spool = Spool(tmp_path, summarize=lambda: b"+".join(acknowledged))
    for i in range(30):
        batch = f"batch-{i:02d}".encode() * 10
        batch_id = spool.append(batch)
        acknowledged.append(batch[:8])  # the owner's summary includes it before the ack
        spool.ack(batch_id, receipt=f"receipt-{i}".encode())
    assert 0 < spool.size_bytes < 2048 + 200  # rewritten to its checkpoint, not truncated
    last = spool.append(b"pending")
    spool.close()

    reopened = Spool(tmp_path)
    assert reopened.checkpoint is not None
    # The checkpoint and the batches acknowledged after it account for all 30, once.
    replayed = [batch[:8] for batch, _ in reopened.acknowledged_since]
    in_checkpoint = reopened.checkpoint.split(b"+")
    assert sorted(in_checkpoint + replayed) == sorted(acknowledged)
    assert set(in_checkpoint).isdisjoint(replayed)
    assert [r for _, r in reopened.acknowledged_since][-1:] == [b"receipt-29"]
    assert list(reopened.pending()) == [(last, b"pending")]
    reopened.close()
