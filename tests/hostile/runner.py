"""Running an entry point on a hostile file in a bounded subprocess (:class:`Worker`).

One worker process (``worker.py``) imports the interpreter's modules and
torch once, then forks a child per request, so a case costs milliseconds of
start-up and a hung or crashed case takes nothing else down.  Each request
is bounded:

* wall time: no answer within ``timeout`` seconds is a hang — the child is
  killed (SIGKILL) and the next request forks a new one;
* memory: the worker runs under ``RLIMIT_AS`` (address space), so a memory
  bomb ends in a MemoryError or a crash, never in the machine swapping;
* paths: a case may name *tripwires*, FIFOs outside the case's folder.  While
  the request runs, the parent polls each one with a non-blocking open for
  writing, which succeeds only once a reader has opened the FIFO: the entry
  point touched a path outside what the file may reference.  The parent then
  closes its end, so the reader sees end-of-file instead of blocking forever.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

#: wall-time limit of one entry point on one file (seconds)
TIMEOUT_S = float(os.environ.get("STRFH5_HOSTILE_TIMEOUT", "10"))
#: address-space limit of the worker process (bytes); torch alone maps ~0.7 GB of it
ADDRESS_SPACE = int(float(os.environ.get("STRFH5_HOSTILE_AS_GB", "1.0")) * 2**30)

_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


@dataclass
class Result:
    """How one entry point ended on one file."""

    outcome: str  # ok, error, hang, crash
    value: object = None
    mro: list = field(default_factory=list)
    message: str = ""
    traceback: str = ""
    touched: list = field(default_factory=list)  # tripwires opened
    seconds: float = 0.0

    def describe(self) -> str:
        head = {"ok": "returned", "error": f"raised {self.mro[0] if self.mro else '?'}",
                "hang": "hung", "crash": "crashed"}[self.outcome]
        extra = f": {self.message[:300]}" if self.message else ""
        touched = f"; OPENED OUTSIDE PATHS {self.touched}" if self.touched else ""
        return f"{head} after {self.seconds:.1f} s{extra}{touched}"


def _limits():  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Worker:
    """A worker process, restarted after a hang or a crash."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self._buf = b""

    def _start(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2",
                   PYTHONWARNINGS="ignore", PYTHONFAULTHANDLER="1")
        env.pop("HDF5_VDS_PREFIX", None)
        env.pop("HDF5_EXT_PREFIX", None)
        self._buf = b""
        self.proc = subprocess.Popen([sys.executable, _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, preexec_fn=_limits, bufsize=0)
        line = self._readline(60.0, [])
        if line is None or "ready" not in line:
            self.close()
            raise RuntimeError("the hostile-file worker did not start (address-space limit too low?)")

    def _readline(self, timeout: float, tripwires: list, touched: list | None = None) -> str | None:
        """The next line from the worker within ``timeout`` seconds (None on timeout or end of file).

        Reads the pipe unbuffered (``os.read``) so that a line already received
        is never left waiting in a buffer ``select`` cannot see.
        """
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            if b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                return line.decode()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 0.05) if tripwires else left)
            for w in tripwires:  # every poll: a reader that reopens a tripwire must not block either
                if _tripped(w) and touched is not None and w not in touched:
                    touched.append(w)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._buf += chunk

    def run(self, request: dict, tripwires=(), timeout: float = TIMEOUT_S) -> Result:
        """Send ``request`` and wait for its answer (see ``worker.py`` for the fields)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        touched: list = []
        t0 = time.monotonic()
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        first = self._readline(timeout, list(tripwires), touched)
        doc = json.loads(first) if first else {}
        if "pid" not in doc:  # the server itself failed
            self.close()
            return Result("crash", message="the worker could not fork", touched=touched)
        line = self._readline(max(0.0, timeout - (time.monotonic() - t0)), list(tripwires), touched)
        dt = time.monotonic() - t0
        answer = json.loads(line) if line else {}
        if "outcome" not in answer:
            hung = not line
            if hung:
                try:
                    os.kill(doc["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
            done = self._readline(30.0, [], None) if hung else line
            if done is None:
                self.close()
            if hung:
                return Result("hang", message=f"no answer within {timeout:g} s", touched=touched, seconds=dt)
            return Result("crash", message=f"the process died (wait status {answer.get('done')}: a segfault, "
                                           "or killed for memory)", touched=touched, seconds=dt)
        done = self._readline(30.0, [], None)
        if done is None:
            self.close()
        return Result(answer["outcome"], answer.get("value"), answer.get("mro", []), answer.get("message", ""),
                      answer.get("traceback", ""), touched, dt)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for s in (self.proc.stdin, self.proc.stdout):
                try:
                    s.close()
                except OSError:
                    pass
            self.proc = None


def _tripped(fifo: str) -> bool:
    """Whether some process holds ``fifo`` open for reading (and let it see end-of-file)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False  # ENXIO: no reader
    os.close(fd)
    return True
