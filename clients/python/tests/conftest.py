"""Runs `conference-gateway sandbox` (the gateway and a simulated Telnyx) for
the tests, on free loopback ports, as a developer would.

The binary is `CONFERENCE_GATEWAY_BIN`, or `target/release/conference-gateway`
under the repository root. A missing binary fails the sandbox tests with a
message saying how to build it; the unit tests do not need it.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]
BANNER_END = "Ctrl-C stops the sandbox."


def gateway_binary() -> Path:
    given = os.environ.get("CONFERENCE_GATEWAY_BIN")
    path = Path(given) if given else REPO / "target" / "release" / "conference-gateway"
    if not path.is_file():
        pytest.fail(
            f"no gateway binary at {path}: build it with `cargo build --release` in {REPO}, "
            "or point CONFERENCE_GATEWAY_BIN at one",
            pytrace=False,
        )
    return path


class Sandbox:
    """One `conference-gateway sandbox` process; `restart()` starts a new one
    on the same gRPC port (with an empty, in-memory event history)."""

    def __init__(self, binary: Path, *, token: Optional[str] = None, settings: Optional[Dict[str, str]] = None) -> None:
        self.binary = binary
        self.settings = dict(settings or {})
        # A fixed token (GATEWAY_AUTH_TOKENS) survives restarts; without one
        # the sandbox generates a token and prints it.
        self.fixed_token = token
        self.grpc_port = 0
        self.target = ""
        self.token = ""
        self.connection_id = ""
        self.banner = ""
        self.process: Optional[subprocess.Popen] = None
        self._log = tempfile.NamedTemporaryFile(prefix="conference-gateway-sandbox-", suffix=".log", delete=False)

    def start(self) -> "Sandbox":
        env = {
            k: v
            for k, v in os.environ.items()
            # Unknown GATEWAY_*/TELNYX_* variables stop the gateway; the tests'
            # own environment must not leak into it.
            if not k.startswith(("GATEWAY_", "TELNYX_")) and k != "REDIS_URL"
        }
        env["GATEWAY_SHUTDOWN_GRACE_SECS"] = "2"
        env.setdefault("RUST_LOG", "info")
        if self.fixed_token:
            env["GATEWAY_AUTH_TOKENS"] = f"pytest:{self.fixed_token}"
        env.update(self.settings)
        args = [
            str(self.binary),
            "sandbox",
            "--grpc-addr",
            f"127.0.0.1:{self.grpc_port}",
            "--http-addr",
            "127.0.0.1:0",
        ]
        last_error = ""
        for _ in range(20):  # the port of a killed sandbox can take a moment to free
            self.process = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=self._log, env=env, text=True, bufsize=1
            )
            banner = self._read_banner(self.process, timeout=30)
            if banner is not None:
                self._parse(banner)
                return self
            self.process.wait(timeout=10)
            last_error = self.log_tail()
            if "address" not in last_error.lower():
                break
            time.sleep(0.25)
        raise RuntimeError(f"the sandbox did not start: {last_error}")

    def _read_banner(self, process: subprocess.Popen, timeout: float) -> Optional[str]:
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        seen: List[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                return None
            seen.append(line)
            if line.strip() == BANNER_END:
                return "".join(seen)
        process.kill()
        return None

    def _parse(self, banner: str) -> None:
        self.banner = banner

        def field(name: str) -> str:
            match = re.search(rf"^{name}\s+(\S+)", banner, re.MULTILINE)
            if not match:
                raise RuntimeError(f"no {name!r} line in the sandbox banner:\n{banner}")
            return match.group(1)

        self.target = field("gRPC")
        self.grpc_port = int(self.target.rsplit(":", 1)[1])
        self.connection_id = field("connection_id")
        self.token = self.fixed_token or field("token")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stops the process: SIGTERM drains (streams end with UNAVAILABLE and
        their cursor), SIGKILL drops every connection."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self, sig: int = signal.SIGTERM) -> "Sandbox":
        self.stop(sig)
        return self.start()

    def log_tail(self, lines: int = 20) -> str:
        with open(self._log.name, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        self._log.close()
        os.unlink(self._log.name)


@pytest.fixture(scope="module")
def sandbox():
    """A sandbox shared by a module's tests, with the token it generated."""
    box = Sandbox(gateway_binary()).start()
    yield box
    box.close()


@pytest.fixture
def restartable_sandbox():
    """A sandbox of the test's own, with a fixed token so that a client keeps
    working across `restart()`."""
    box = Sandbox(gateway_binary(), token=secrets.token_hex(16)).start()
    yield box
    box.close()


class Collector:
    """Iterates a subscription in a thread, keeping what it yields and how
    it ended, so a test can wait for items with a timeout."""

    def __init__(self, subscription) -> None:
        self.subscription = subscription
        self.items: list = []
        self.error: Optional[BaseException] = None
        self.finished = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        # Live: the gateway registered the stream, so what happens from now on
        # is delivered. (A subscription that fails at once finishes instead.)
        deadline = time.monotonic() + 10
        while not subscription.wait_live(timeout=0.05) and not self.finished.is_set():
            if time.monotonic() > deadline:
                raise AssertionError("the subscription did not go live within 10 s")

    def _run(self) -> None:
        try:
            for item in self.subscription:
                with self._changed:
                    self.items.append(item)
                    self._changed.notify_all()
        except BaseException as error:  # noqa: BLE001 - kept for the test to assert on
            self.error = error
        finally:
            self.finished.set()
            with self._changed:
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[object], bool], timeout: float = 10.0):
        """The first item matching `predicate`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for item in self.items:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.finished.is_set():
                    raise AssertionError(
                        f"no matching item within {timeout}s; got {[_describe(i) for i in self.items]}"
                        f", ended with {self.error!r}"
                    )
                self._changed.wait(remaining)

    def wait_finished(self, timeout: float = 20.0) -> Optional[BaseException]:
        if not self.finished.wait(timeout):
            raise AssertionError(f"the subscription still runs after {timeout}s")
        return self.error

    def close(self) -> None:
        self.subscription.close()
        self._thread.join(timeout=10)


def _describe(item: object) -> str:
    return getattr(item, "event_type", None) or repr(item)


@pytest.fixture
def collect():
    """`collect(subscription)` starts a Collector, closed after the test."""
    started: List[Collector] = []

    def start(subscription) -> Collector:
        collector = Collector(subscription)
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.close()

