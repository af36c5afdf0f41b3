"""Moving an installation from one store to another (SQLite -> Redis, or back).

The stores come from `companion.backends.open_store`; this module knows none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.backends.base import Store

CHUNK = 500


class MigrationError(Exception):
    """The migration cannot start (target not empty, nothing to copy)."""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What was copied."""

    sessions: int
    events: int
    organisers: int = 0


async def migrate(source: Store, target: Store) -> MigrationReport:
    """Copy programme, session secrets, every event log and the organisers; the target must
    be empty."""
    if await target.load_programme() is not None or await target.load_access():
        raise MigrationError("The target already holds a programme; refusing to overwrite it.")
    data = await source.load_programme()
    if data is None:
        raise MigrationError("The source holds no programme.")
    access = await source.load_access()
    events_copied = 0
    # Logs first, programme last: a half-done migration leaves a target that looks empty.
    for a in access:
        events = await source.load_events(a.session_id)
        for start in range(0, len(events), CHUNK):
            await target.append(events[start : start + CHUNK])
        events_copied += len(events)
    organisers = await _copy_organisers(source, target, data)
    await target.save_programme(data, access)
    return MigrationReport(len(access), events_copied, organisers)


async def _copy_organisers(source: Store, target: Store, data: dict[str, object]) -> int:
    """Accounts (password hashes as they are), memberships, each network's audit, in
    order, and its member list. Sign-in sessions, one-time links and attempt counters stay behind: people sign
    in again, and unused links are made anew."""
    organisers = await source.list_organisers()
    for organiser in organisers:
        await target.add_organiser(organiser)
    networks = data.get("networks")
    for network in networks if isinstance(networks, list) else []:
        network_id = str(network.get("id", "")) if isinstance(network, dict) else ""
        for organiser_id in await source.network_members(network_id):
            await target.add_membership(network_id, organiser_id)
        for entry in reversed(await source.load_audit(network_id, limit=1_000_000)):
            await target.append_audit(entry)
        # The member list, personal links (their digests) included: links keep working.
        await target.save_members(await source.load_members(network_id))
    return len(organisers)
