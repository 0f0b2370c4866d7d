"""Regenerate tickmesh_betterproto/ (typed betterproto2 messages and stubs) from ../../proto.

Run with the project's venv: `.venv/bin/python clients/betterproto/generate.py`.
Idempotent: the package is rebuilt from scratch, so removed protos leave nothing
behind. The output is committed, like generated/, and never edited by hand.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from google.rpc import status_pb2
from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROTO = ROOT / "proto"
OUT = HERE / "tickmesh_betterproto"
BIN = Path(sys.executable).parent

# client_generation=sync: plain grpcio stubs, the transport the servers already
# use, so this client needs no second HTTP/2 stack (grpclib) to install.
OPTIONS = "client_generation=sync"

# google.rpc.Status and ErrorInfo: what a refusal's details (grpc-status-details-bin)
# carry, e.g. the Bridge a WRONG_POOL refusal names. Their .proto files ship with
# googleapis-common-protos, beside its _pb2 modules.
GOOGLEAPIS = Path(status_pb2.__file__).resolve().parents[2]
RPC_PROTOS = ["google/rpc/status.proto", "google/rpc/error_details.proto"]


def main() -> int:
    plugin = BIN / "protoc-gen-python_betterproto2"
    if not plugin.exists():
        print(f"{plugin} is missing: run `make install`", file=sys.stderr)
        return 1
    # The plugin formats its output by running `ruff` from PATH: use the venv's, from
    # the repository root so that it reads our pyproject.toml wherever this is run from.
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    os.chdir(ROOT)
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    protos = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    well_known = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO}",
            f"-I{well_known}",
            f"-I{GOOGLEAPIS}",
            f"--plugin=protoc-gen-python_betterproto2={plugin}",
            f"--python_betterproto2_out={OUT}",
            f"--python_betterproto2_opt={OPTIONS}",
            *protos,
            *RPC_PROTOS,
        ]
    )
    if code == 0:
        print(f"generated {len(protos) + len(RPC_PROTOS)} protos into {OUT.relative_to(ROOT)}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
