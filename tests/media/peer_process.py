"""A WHIP publisher or WHEP viewer in a process of its own, so a test can kill it the way
a browser tab or an encoder dies: no DELETE, no DTLS close, its UDP ports just gone.

    python -m tests.media.peer_process viewer|publisher BASE SESSION TOKEN

Prints one line, `connected <resource location>`, once its connection is up, then runs
until killed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass

from tests.media.peers import CounterTrack, Publisher, ToneTrack, Viewer, wait_until
from tests.serverproc import ROOT


async def _run(kind: str, base: str, session: str, token: str) -> None:
    peer: Publisher | Viewer
    if kind == "publisher":
        peer = Publisher(base, session, token, CounterTrack(), ToneTrack())
    else:
        peer = Viewer(base, session, token, decode=False)
    answer = await peer.start()
    if answer.status != 201:
        print(f"refused {answer.status} {answer.text}", flush=True)
        return
    assert peer.pc is not None
    pc = peer.pc
    if not await wait_until(lambda: pc.connectionState == "connected", 15):
        print(f"failed {pc.connectionState}", flush=True)
        return
    print(f"connected {peer.location}", flush=True)
    await asyncio.Event().wait()


@dataclass
class PeerProcess:
    """A peer in a child process (see the module docstring)."""

    proc: subprocess.Popen[str]
    location: str

    @classmethod
    async def start(cls, kind: str, base: str, session: str, token: str) -> PeerProcess:
        """Start the peer and wait until its connection is up."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.media.peer_process", kind, base, session, token],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        if not line.startswith("connected "):
            proc.kill()
            raise AssertionError(f"{kind} did not connect: {line!r}")
        return cls(proc, line.split(" ", 1)[1].strip())

    def kill(self) -> float:
        """SIGKILL the peer; returns the monotonic time it was dead."""
        self.proc.kill()
        self.proc.wait(5)
        return time.monotonic()


if __name__ == "__main__":
    asyncio.run(_run(*sys.argv[1:5]))
