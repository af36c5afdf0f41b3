"""A network's member list and the personal links that admit members to its members-only
sessions.

The store is the truth for every admission: a member's page, realtime join, action in a
members-only session and stream request asks it whether that very link still stands, so
a revoked link is refused by every process from the moment the store has it. Members
already connected are cut off by a `member.revoked` event in each members-only session
of the network, which every process follows in the session's log.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

from companion.backends.base import Store, StoreUnavailable
from companion.domain import events as ev
from companion.domain.errors import DomainError
from companion.domain.members import (
    MAX_MEMBERS,
    CsvRow,
    MemberFields,
    MemberInvalid,
    NetworkMember,
    check_member,
    member_participant,
    parse_member_participant,
)
from companion.domain.organisers import digest, new_secret
from companion.services.sessions import SessionService

log = logging.getLogger(__name__)


class MemberError(Exception):
    """A refused change of the member list; `key` is a catalogue key, `field` the field."""

    def __init__(self, key: str, field: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.field = field


class MemberService:
    """The member lists of every network, over one store and the live sessions."""

    def __init__(
        self, store: Store, sessions: SessionService, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.clock = clock

    # -- the list ----------------------------------------------------------------------
    async def members(self, network_id: str) -> list[NetworkMember]:
        """A network's members by name (then email)."""
        members = await self.store.load_members(network_id)
        return sorted(members, key=lambda m: (m.name.casefold(), m.email))

    async def get(self, network_id: str, member_id: str) -> NetworkMember | None:
        """One member."""
        return await self.store.get_member(network_id, member_id)

    async def add(
        self, network_id: str, name: object, email: object, organisation: object, lang: object
    ) -> NetworkMember:
        """A new member (no link yet); MemberError when a field is wrong or the email is
        already on the list."""
        fields = _checked(name, email, organisation, lang)
        existing = await self.store.load_members(network_id)
        if any(m.email == fields.email for m in existing):
            raise MemberError("members.error_email_taken", field="email")
        if len(existing) >= MAX_MEMBERS:
            raise MemberError("members.error_too_many")
        member = NetworkMember(
            secrets.token_hex(8),
            network_id,
            fields.name,
            fields.email,
            fields.organisation,
            fields.lang,
            added=self.clock(),
        )
        await self.store.save_members([member])
        return member

    async def edit(
        self,
        network_id: str,
        member_id: str,
        name: object,
        email: object,
        organisation: object,
        lang: object,
    ) -> NetworkMember:
        """Change a member's name, email, organisation or language (the link stays)."""
        fields = _checked(name, email, organisation, lang)
        existing = await self.store.load_members(network_id)
        member = next((m for m in existing if m.id == member_id), None)
        if member is None:
            raise MemberError("members.error_not_found")
        if any(m.email == fields.email and m.id != member_id for m in existing):
            raise MemberError("members.error_email_taken", field="email")
        changed = replace(
            member,
            name=fields.name,
            email=fields.email,
            organisation=fields.organisation,
            lang=fields.lang,
        )
        await self.store.save_members([changed])
        return changed

    async def remove(self, network_id: str, member_id: str) -> NetworkMember:
        """Take a member off the list; their link stops working at once."""
        member = await self.store.get_member(network_id, member_id)
        if member is None or not await self.store.delete_member(network_id, member_id):
            raise MemberError("members.error_not_found")
        await self._cut_off(member)
        return member

    async def import_rows(self, network_id: str, rows: list[CsvRow]) -> tuple[int, int]:
        """Store a checked file's rows at once: new emails are added, known ones updated
        (their links stay). Returns (added, updated)."""
        existing = {m.email: m for m in await self.store.load_members(network_id)}
        now = self.clock()
        out: list[NetworkMember] = []
        added = 0
        for row in rows:
            f = row.fields
            known = existing.get(f.email)
            if known is None:
                added += 1
                out.append(
                    NetworkMember(
                        secrets.token_hex(8),
                        network_id,
                        f.name,
                        f.email,
                        f.organisation,
                        f.lang,
                        added=now,
                    )
                )
            else:
                out.append(replace(known, name=f.name, organisation=f.organisation, lang=f.lang))
        if len(existing) + added > MAX_MEMBERS:
            raise MemberError("members.error_too_many")
        await self.store.save_members(out)
        return added, len(out) - added

    # -- personal links ----------------------------------------------------------------
    async def new_link(self, network_id: str, member_id: str) -> tuple[NetworkMember, str]:
        """A new personal link secret (shown once); the member's earlier link stops."""
        member = await self.store.get_member(network_id, member_id)
        if member is None:
            raise MemberError("members.error_not_found")
        secret = new_secret()
        fresh = replace(member, token_hash=digest(secret), link_at=self.clock())
        await self.store.save_members([fresh])
        if member.token_hash:
            await self._cut_off(member)
        return fresh, secret

    async def revoke(self, network_id: str, member_id: str) -> NetworkMember:
        """End a member's link, on every process at once; they stay on the list."""
        member = await self.store.get_member(network_id, member_id)
        if member is None:
            raise MemberError("members.error_not_found")
        if member.token_hash:
            await self.store.save_members([replace(member, token_hash="", link_at=0.0)])
            await self._cut_off(member)
        return member

    async def by_secret(self, secret: object) -> NetworkMember | None:
        """The member a personal link's secret belongs to, while the link stands."""
        if not isinstance(secret, str) or not 20 <= len(secret) <= 100:
            return None
        return await self.store.member_by_token(digest(secret))

    # -- admission ---------------------------------------------------------------------
    def members_only(self, session_id: str) -> bool:
        """Whether the session admits only members from afar (on every join and every
        remote ask or vote: the running session's own copy, not a walk of the programme)."""
        state = self.sessions.states.get(session_id)
        return state is not None and state.session.members_only

    async def admitted(self, session_id: str, participant: str | None) -> NetworkMember | None:
        """The member a participant id stands for, when their link still stands and they
        are a member of the session's network; else None."""
        parsed = parse_member_participant(participant)
        found = self.sessions.programme.find_session(session_id)
        if parsed is None or found is None:
            return None
        member_id, fingerprint = parsed
        member = await self.store.get_member(found[0].id, member_id)
        if member is None or not member.token_hash or member.fingerprint != fingerprint:
            return None
        return member

    async def require(self, session_id: str, participant: str | None) -> NetworkMember:
        """`admitted`, or DomainError `members_only` (also when the store does not answer:
        a members-only session never opens on a guess)."""
        try:
            member = await self.admitted(session_id, participant)
        except StoreUnavailable:
            raise DomainError(
                "The member list cannot be checked right now; try again.", "store_unavailable"
            ) from None
        if member is None:
            raise members_only_refusal()
        return member

    @staticmethod
    def participant_of(member: NetworkMember) -> str:
        """The participant id a member joins a session with."""
        return member_participant(member)

    async def record_presence(self, session_id: str, member: NetworkMember) -> None:
        """Note in the session's log that this member took part (once per session)."""
        data = {"member": member.id, "name": member.name, "organisation": member.organisation}
        try:
            await self.sessions.execute(session_id, lambda s: s.member_joined(data))
        except DomainError as exc:
            if exc.code != "no_change":
                log.warning("member attendance in %s not recorded: %s", session_id, exc.message)

    async def _cut_off(self, member: NetworkMember) -> None:
        """Close the connections and streams of this member's old link in every
        members-only session of the network, on every process (through the logs)."""
        draft = ev.Draft(ev.MEMBER_REVOKED, {"member": member.id})
        for network, _, _, session in self.sessions.programme.sessions():
            if network.id != member.network_id or not session.members_only:
                continue
            if session.id not in self.sessions.states:
                continue
            try:
                await self.sessions.execute(session.id, lambda _state: draft)
            except (DomainError, StoreUnavailable) as exc:
                # The store already refuses the link; only the push to open pages is missing.
                log.warning("could not cut off a member in %s: %s", session.id, exc)


def members_only_refusal() -> DomainError:
    """What a participant without a standing member's link gets in a members-only session."""
    return DomainError(
        "This session is for the network's members: open your personal link.", "members_only"
    )


def _checked(name: object, email: object, organisation: object, lang: object) -> MemberFields:
    try:
        return check_member(name, email, organisation, lang)
    except MemberInvalid as exc:
        raise MemberError(exc.key, field=exc.field) from None
