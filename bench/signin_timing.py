"""Sign-in answer times for an unknown email, a wrong password and the right one, against a
real server process (the Argon2id check dominates all three). Prints a table.

    python bench/signin_timing.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.organisers import PASSWORD, Organiser, signed_in
from tests.serverproc import ServerProcess


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp))
        assert server.import_programme().returncode == 0
        server.start()
        try:
            signed_in(server, "anna@kommun.se", "ledarskap-och-innovation")
            cases = {
                "unknown email": lambda i: (f"okand{i}@kommun.se", "fel lösenord"),
                "wrong password": lambda i: ("anna@kommun.se", "fel lösenord"),
                "right password": lambda i: ("anna@kommun.se", PASSWORD),
            }
            times: dict[str, list[float]] = {name: [] for name in cases}
            for i in range(rounds):
                for name, case in cases.items():
                    email, password = case(i)
                    client = Organiser(server)
                    # Each round's right password clears the account's attempt counter;
                    # 3 attempts a round stay under the per-address limit for 10 rounds.
                    started = time.perf_counter()
                    status = client.sign_in(email, password).status_code
                    times[name].append(time.perf_counter() - started)
                    assert status in (303, 401), status
        finally:
            server.stop()
    print("| case | n | median ms | p90 ms |\n|---|---:|---:|---:|")
    for name, values in times.items():
        values.sort()
        p90 = values[int(0.9 * (len(values) - 1))]
        print(
            f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | {p90 * 1000:.0f} |"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
