"""Generate the Python gRPC stubs for every proto under proto/ into src/codeeval/api/.

The stubs are committed, and `python tools/gen_proto.py --check` (run by `make lint` and CI)
fails when they differ from what the protos generate, so the two can never drift.

Generated imports of the form ``from codeeval.common.v1 import common_pb2`` are rewritten to
``from codeeval.api.common.v1 import common_pb2`` so that the proto package name
(``codeeval.<service>.v1``, buf style) does not collide with the service's Python package
(``codeeval.<service>``).
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT = ROOT / "src" / "codeeval" / "api"
IMPORT_RE = re.compile(r"^from codeeval\.(\w+)\.v(\d+) import", re.MULTILINE)
HEADER = '"""Generated gRPC stubs for codeeval\'s protos. Do not edit: run tools/gen_proto.py."""\n'


def generate(dest: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        gen_root = Path(tmp) / "codeeval"
        for path in sorted(gen_root.rglob("*")):
            if path.is_dir():
                continue
            rel = path.relative_to(gen_root)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            text = IMPORT_RE.sub(r"from codeeval.api.\1.v\2 import", path.read_text())
            target.write_text(text)
    for d in [dest, *sorted(p for p in dest.rglob("*") if p.is_dir())]:
        if d.name != "__pycache__":
            (d / "__init__.py").write_text(HEADER)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    args = parser.parse_args()
    if not args.check:
        if OUT.exists():
            shutil.rmtree(OUT)
        generate(OUT)
        print(f"generated stubs into {OUT.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "api"
        generate(fresh)
        stale = _diff(fresh, OUT)
    if stale:
        print("stale generated stubs (run `make proto`):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    print("generated stubs are fresh")
    return 0


def _diff(a: Path, b: Path) -> list[str]:
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}

    fa, fb = files(a), files(b) if b.exists() else set()
    out = sorted(fa ^ fb)
    out += sorted(f for f in fa & fb if not filecmp.cmp(a / f, b / f, shallow=False))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
