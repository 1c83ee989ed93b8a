"""Builds the `conference_gateway` package, generating its gRPC stubs on the way.

The stubs (`conference_gateway.v1.*_pb2`, `*_pb2.pyi`, `*_pb2_grpc`) are never
committed: they are generated from the gateway's own `.proto` files by
grpcio-tools each time a wheel is built, so the client cannot drift from the
protos it ships with.

Where the protos come from, in order:

1. `CONFERENCE_GATEWAY_PROTO_DIR`, when set (a directory holding
   `conference_gateway/v1/*.proto`);
2. `proto/` beside this file: present in an sdist, whose `sdist` step copies the
   repository's protos in, so `python -m build` (sdist, then a wheel from the
   unpacked sdist in a temporary directory) works;
3. `../../proto` relative to this file: the repository's own `proto/` when
   building from a checkout, which is what `pip install ./clients/python` does
   (pip builds a local directory in place; only the build *dependencies* are
   isolated).

A build that finds none of them stops with a message naming all three.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py
from setuptools.command.sdist import sdist as _sdist

HERE = Path(__file__).resolve().parent
PROTO_PACKAGE = Path("conference_gateway") / "v1"


def proto_dir() -> Path:
    candidates = []
    env = os.environ.get("CONFERENCE_GATEWAY_PROTO_DIR")
    if env:
        candidates.append(Path(env))
    candidates += [HERE / "proto", HERE.parent.parent / "proto"]
    for candidate in candidates:
        if any((candidate / PROTO_PACKAGE).glob("*.proto")):
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise SystemExit(
        "conference-gateway: no conference_gateway/v1/*.proto found (looked in "
        f"{looked}); build from the repository checkout, from an sdist, or set "
        "CONFERENCE_GATEWAY_PROTO_DIR to the repository's proto/ directory"
    )


def generate(out: Path) -> None:
    """Runs protoc (from grpcio-tools) over every proto into `out`."""
    import grpc_tools
    from grpc_tools import protoc

    source = proto_dir()
    protos = sorted(p.relative_to(source).as_posix() for p in (source / PROTO_PACKAGE).glob("*.proto"))
    # google/protobuf/*.proto (timestamp, struct, descriptor) ship with grpcio-tools.
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    # Start from nothing, so a proto removed since the last build leaves no module.
    shutil.rmtree(out / PROTO_PACKAGE, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"--proto_path={source}",
        f"--proto_path={well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
    ]
    # Typed stubs (`*_pb2_grpc.pyi`: `client.calls.Dial` takes a DialRequest and
    # returns a DialResponse) come from mypy-protobuf's plugin, a build requirement.
    plugin = mypy_grpc_plugin()
    if plugin:
        args += [f"--plugin=protoc-gen-mypy_grpc={plugin}", f"--mypy_grpc_out={out}"]
    else:
        print("conference-gateway: protoc-gen-mypy_grpc not found; the gRPC stubs get no .pyi", file=sys.stderr)
    args += protos
    if protoc.main(args) != 0:
        raise SystemExit(f"conference-gateway: protoc failed on {source}")
    # The generated modules import each other as `conference_gateway.v1.x_pb2`,
    # which is this package's `v1` subpackage.
    init = out / PROTO_PACKAGE / "__init__.py"
    init.write_text('"""Generated from proto/conference_gateway/v1 at build time. Do not edit."""\n')


def mypy_grpc_plugin() -> str | None:
    name = "protoc-gen-mypy_grpc"
    found = shutil.which(name)
    if found:
        return found
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / name, scripts / f"{name}.exe", Path(sys.executable).parent / name):
        if candidate.is_file():
            return str(candidate)
    return None


class build_py(_build_py):
    """Copies the hand-written sources, then generates the stubs beside them."""

    def run(self) -> None:
        super().run()
        # An editable install imports from src/, so the stubs go there (and are
        # git-ignored); a wheel takes them from the build directory.
        target = HERE / "src" if getattr(self, "editable_mode", False) else Path(self.build_lib)
        generate(target)


class sdist(_sdist):
    """Puts the repository's protos into the sdist, so it builds on its own."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        source = proto_dir()
        shutil.copytree(source / PROTO_PACKAGE, Path(base_dir) / "proto" / PROTO_PACKAGE)


def runtime_requirements() -> list[str]:
    """grpcio and protobuf as the grpcio-tools that generated the stubs needs
    them: generated code refuses an older runtime than its generator's."""
    requirements = ["googleapis-common-protos>=1.56"]
    try:
        from importlib.metadata import requires

        tools = requires("grpcio-tools") or []
    except Exception:  # grpcio-tools is a build requirement; be lenient anyway
        tools = []
    found = {}
    for requirement in tools:
        if ";" in requirement:
            continue
        name = re.split(r"[\s<>=!~\[(]", requirement, maxsplit=1)[0].lower()
        if name in ("grpcio", "protobuf"):
            found[name] = requirement
    requirements.append(found.get("grpcio", "grpcio>=1.64"))
    requirements.append(found.get("protobuf", "protobuf>=5.26"))
    return requirements


setup(
    install_requires=runtime_requirements(),
    cmdclass={"build_py": build_py, "sdist": sdist},
)
