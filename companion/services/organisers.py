"""Organiser accounts: create, one-time links, sign in and out, memberships, the audit.

Passwords are hashed with Argon2id (argon2-cffi) on a worker thread, so a sign-in never
blocks the event loop. A sign-in with an unknown email is checked against a dummy hash,
so it takes as long and answers the same as a wrong password. Attempts are counted in the
store (per account and per address), so the limit holds across processes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from companion.backends.base import Store
from companion.domain.organisers import (
    INVITATION_SECONDS,
    SIGNIN_LINK_SECONDS,
    AuditEntry,
    OneTimeLink,
    Organiser,
    Signin,
    digest,
    new_secret,
    normalise_email,
    password_problem,
)

SIGNIN_SECONDS = 12 * 3600  # how long a browser stays signed in
ATTEMPT_WINDOW = 15 * 60
ATTEMPTS_PER_ACCOUNT = 5  # sign-in attempts per email in a window (cleared on success)
ATTEMPTS_PER_ADDRESS = 30  # per client address in a window (never cleared by a success)


class AccountError(Exception):
    """A refused account action; `key` is the catalogue key of the message people see."""

    def __init__(self, key: str, field: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.field = field


class OrganiserService:
    """Everything about organisers, over one store."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # Argon2id with the library's defaults
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # -- accounts --------------------------------------------------------------------
    async def create(self, email: object, name: str = "") -> Organiser:
        """A new account without a password; AccountError when the email is invalid or taken."""
        normal = normalise_email(email)
        if normal is None:
            raise AccountError("organise.error_email", field="email")
        organiser = Organiser(secrets.token_hex(8), normal, name.strip()[:100], "", self.clock())
        if not await self.store.add_organiser(organiser):
            raise AccountError("organise.error_email_taken", field="email")
        return organiser

    async def get(self, organiser_id: str) -> Organiser | None:
        """An account by id."""
        return await self.store.get_organiser(organiser_id)

    async def find(self, email: object) -> Organiser | None:
        """An account by email (any spelling of it)."""
        normal = normalise_email(email)
        return await self.store.find_organiser(normal) if normal else None

    async def signin_link(self, organiser: Organiser) -> str:
        """A one-time secret with which the organiser sets a password (valid 24 hours)."""
        secret = new_secret()
        await self.store.put_link(
            OneTimeLink(digest(secret), "signin", self.clock() + SIGNIN_LINK_SECONDS, organiser.id)
        )
        return secret

    async def set_password(self, organiser: Organiser, password: object) -> Organiser:
        """Hash and store a new password; every earlier sign-in session ends."""
        problem = password_problem(password)
        if problem:
            raise AccountError(problem, field="password")
        assert isinstance(password, str)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        fresh = await self.store.get_organiser(organiser.id) or organiser
        changed = replace(fresh, password_hash=hashed, epoch=fresh.epoch + 1)
        await self.store.save_organiser(changed)
        return changed

    async def use_signin_link(self, secret: str) -> Organiser | None:
        """The organiser a sign-in link is for; the link is used up. None when not valid."""
        link = await self._take(secret, "signin")
        return await self.store.get_organiser(link.organiser_id) if link else None

    async def _take(self, secret: object, kind: str) -> OneTimeLink | None:
        if not isinstance(secret, str) or not 20 <= len(secret) <= 100:
            return None
        link = await self.store.take_link(digest(secret), self.clock())
        if link is None or link.kind != kind:
            return None
        return link

    # -- signing in ------------------------------------------------------------------
    async def authenticate(self, email: object, password: object, address: str) -> Organiser:
        """The organiser with this email and password, or AccountError.

        Unknown email, no password yet and a wrong password give the same error after the
        same work; too many attempts give `organise.error_too_many` before any check.
        """
        normal = normalise_email(email) or "invalid"
        now = self.clock()
        per_account = await self.store.count_failure(f"email:{normal}", ATTEMPT_WINDOW, now)
        per_address = await self.store.count_failure(f"addr:{address}", ATTEMPT_WINDOW, now)
        if per_account > ATTEMPTS_PER_ACCOUNT or per_address > ATTEMPTS_PER_ADDRESS:
            raise AccountError("organise.error_too_many")
        organiser = await self.store.find_organiser(normal)
        stored = organiser.password_hash if organiser and organiser.password_hash else ""
        given = password if isinstance(password, str) and len(password) <= 1000 else ""
        ok = await asyncio.to_thread(self._verify, stored or self._dummy_hash, given)
        if not ok or organiser is None or not stored:
            raise AccountError("organise.error_signin")
        await self.store.clear_failures(f"email:{normal}")
        return organiser

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def start_signin(
        self, organiser: Organiser, via_link: bool = False
    ) -> tuple[str, Signin]:
        """A new sign-in session: the secret for the cookie, and what the store keeps."""
        secret = new_secret()
        expires = self.clock() + SIGNIN_SECONDS
        signin = Signin(
            digest(secret), organiser.id, new_secret(), expires, organiser.epoch, via_link
        )
        await self.store.put_signin(signin)
        return secret, signin

    async def signed_in(self, secret: str) -> tuple[Organiser, Signin] | None:
        """Who a sign-in session belongs to, while it lasts and the password is unchanged."""
        signin = await self.store.get_signin(digest(secret), self.clock())
        if signin is None:
            return None
        organiser = await self.store.get_organiser(signin.organiser_id)
        if organiser is None or organiser.epoch != signin.epoch:
            return None
        return organiser, signin

    async def sign_out(self, secret: str) -> None:
        """End a sign-in session."""
        await self.store.delete_signin(digest(secret))

    async def sign_out_quietly(self, signin: Signin) -> None:
        """End a sign-in session known by its record (after a password change)."""
        await self.store.delete_signin(signin.id_hash)

    # -- networks --------------------------------------------------------------------
    async def networks_of(self, organiser_id: str) -> set[str]:
        """The networks an organiser belongs to."""
        return await self.store.memberships(organiser_id)

    async def is_member(self, organiser_id: str, network_id: str) -> bool:
        """Whether the organiser belongs to the network."""
        return network_id in await self.store.memberships(organiser_id)

    async def members(self, network_id: str) -> list[Organiser]:
        """The organisers of a network, by email."""
        found = [
            await self.store.get_organiser(i) for i in await self.store.network_members(network_id)
        ]
        return sorted((o for o in found if o is not None), key=lambda o: o.email)

    async def add_member(self, network_id: str, organiser: Organiser, by: str) -> None:
        """Make an organiser a member of a network (recorded in the audit)."""
        await self.store.add_membership(network_id, organiser.id)
        await self.record_audit(network_id, by, "organiser.added", organiser.email)

    async def remove_member(self, network_id: str, organiser: Organiser, by: str) -> None:
        """End a membership (recorded in the audit)."""
        await self.store.remove_membership(network_id, organiser.id)
        await self.record_audit(network_id, by, "organiser.removed", organiser.email)

    async def invite(self, network_id: str, email: object, by: Organiser) -> str:
        """A one-time invitation to a network (valid 7 days), recorded in the audit."""
        normal = normalise_email(email)
        if normal is None:
            raise AccountError("organise.error_email", field="email")
        secret = new_secret()
        await self.store.put_link(
            OneTimeLink(
                digest(secret),
                "invite",
                self.clock() + INVITATION_SECONDS,
                email=normal,
                network_id=network_id,
                invited_by=by.id,
            )
        )
        await self.record_audit(network_id, by.email, "organiser.invited", normal)
        return secret

    async def accept_invitation(
        self, secret: object, signed_in_as: Organiser | None = None
    ) -> tuple[Organiser, str] | None:
        """Use an invitation: the invited account (made when new) and its network.

        An invitation for an account that already has a password joins only when that
        account is the one signed in (AccountError `organise.error_invite_signin`, and the
        link stays usable): whoever holds the link may not take over an existing account.
        """
        link = await self._take(secret, "invite")
        if link is None:
            return None
        organiser = await self.store.find_organiser(link.email)
        someone_else = signed_in_as is None or signed_in_as.id != (organiser and organiser.id)
        if organiser is not None and organiser.password_hash and someone_else:
            await self.store.put_link(link)
            raise AccountError("organise.error_invite_signin")
        if organiser is None:
            organiser = await self.create(link.email)
        if not await self.is_member(organiser.id, link.network_id):
            await self.add_member(link.network_id, organiser, organiser.email)
        return organiser, link.network_id

    # -- audit -----------------------------------------------------------------------
    async def record_audit(self, network_id: str, who: str, what: str, detail: str = "") -> None:
        """Record who changed what in a network, now."""
        await self.store.append_audit(AuditEntry(network_id, self.clock(), who, what, detail[:500]))

    async def audit(self, network_id: str, limit: int = 500) -> list[AuditEntry]:
        """A network's audit, newest first."""
        return await self.store.load_audit(network_id, limit)
