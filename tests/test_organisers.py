"""Organiser accounts over a real SQLite store: links, passwords, sign-in, invitations."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore
from companion.cli import demo_programme_text
from companion.domain.organisers import normalise_email, password_problem
from companion.programme_file import parse_programme
from companion.services import organisers as module
from companion.services.organisers import AccountError, OrganiserService
from companion.services.sessions import SessionService
from companion.web import organise_members, programme_pages, schedule_pages
from companion.web.i18n import catalogue

PASSWORD = "en lång mening som lösenord"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The service's clock."""
    return Clock()


@pytest.fixture
def service(store: SQLiteStore, clock: Clock) -> OrganiserService:
    """The service with fast Argon2id parameters (the same algorithm, less memory)."""
    return OrganiserService(store, clock, PasswordHasher(time_cost=1, memory_cost=1024))


def test_email_and_password_rules() -> None:
    """Emails are trimmed and lower-cased; malformed ones and short or huge passwords refused."""
    assert normalise_email("  Anna.Öberg@Kommun.SE ") == "anna.öberg@kommun.se"
    for bad in ("", "anna", "a@b", "a b@c.se", "a@@b.se", None, 5, "x" * 250 + "@a.se"):
        assert normalise_email(bad) is None, bad
    assert password_problem("kort") == "organise.error_password_short"
    assert password_problem("x" * 201) == "organise.error_password_long"
    assert password_problem(None) == "organise.error_password_short"
    assert password_problem("tio tecken") is None


async def test_a_signin_link_works_once_and_expires(
    service: OrganiserService, clock: Clock
) -> None:
    """The printed link opens the account once; a second link expires after 24 hours."""
    anna = await service.create("anna@kommun.se")
    first = await service.signin_link(anna)
    assert await service.use_signin_link(first) == anna
    assert await service.use_signin_link(first) is None
    second = await service.signin_link(anna)
    clock.now += 24 * 3600 + 1
    assert await service.use_signin_link(second) is None
    assert await service.use_signin_link("not-a-link") is None


async def test_the_password_is_stored_only_as_an_argon2id_hash(
    service: OrganiserService, store: SQLiteStore
) -> None:
    """The stored account holds an Argon2id hash, never the password."""
    anna = await service.set_password(await service.create("anna@kommun.se"), PASSWORD)
    stored = await store.get_organiser(anna.id)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    with pytest.raises(AccountError) as short:
        await service.set_password(anna, "kort")
    assert short.value.key == "organise.error_password_short"


async def test_unknown_email_and_wrong_password_answer_alike(service: OrganiserService) -> None:
    """Unknown email, no password yet and a wrong password give the same error."""
    await service.set_password(await service.create("anna@kommun.se"), PASSWORD)
    await service.create("utan.losenord@kommun.se")
    keys = []
    for email, password in (
        ("okand@kommun.se", PASSWORD),
        ("anna@kommun.se", "fel lösenord här"),
        ("utan.losenord@kommun.se", ""),
        ("inte en adress", PASSWORD),
    ):
        with pytest.raises(AccountError) as refused:
            await service.authenticate(email, password, "10.0.0.1")
        keys.append(refused.value.key)
    assert keys == ["organise.error_signin"] * 4
    assert (await service.authenticate(" ANNA@kommun.se", PASSWORD, "10.0.0.1")).email == (
        "anna@kommun.se"
    )


async def test_failed_signins_are_limited_per_account_and_per_address(
    service: OrganiserService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the limit even the right password is refused, until the window has passed."""
    monkeypatch.setattr(module, "ATTEMPTS_PER_ADDRESS", 8)
    await service.set_password(await service.create("anna@kommun.se"), PASSWORD)
    for _ in range(module.ATTEMPTS_PER_ACCOUNT):
        with pytest.raises(AccountError, match="error_signin"):
            await service.authenticate("anna@kommun.se", "fel lösenord", "10.0.0.1")
    with pytest.raises(AccountError, match="error_too_many"):
        await service.authenticate("anna@kommun.se", PASSWORD, "10.0.0.2")
    # Per address: other accounts from the same address are limited too.
    for i in range(3):  # 5 + 3 = 8 attempts from 10.0.0.1: the limit
        with pytest.raises(AccountError, match="error_signin"):
            await service.authenticate(f"okand{i}@kommun.se", "x", "10.0.0.1")
    with pytest.raises(AccountError, match="error_too_many"):
        await service.authenticate("okand9@kommun.se", "x", "10.0.0.1")
    clock.now += module.ATTEMPT_WINDOW + 1
    assert await service.authenticate("anna@kommun.se", PASSWORD, "10.0.0.1")


async def test_a_new_password_ends_earlier_signins(service: OrganiserService) -> None:
    """Sign-in sessions from before a password change stop working; sign-out ends one."""
    anna = await service.set_password(await service.create("anna@kommun.se"), PASSWORD)
    old, _ = await service.start_signin(anna)
    assert (await service.signed_in(old))[0].id == anna.id
    anna = await service.set_password(anna, PASSWORD + " två")
    assert await service.signed_in(old) is None
    fresh, _ = await service.start_signin(anna)
    assert await service.signed_in(fresh) is not None
    await service.sign_out(fresh)
    assert await service.signed_in(fresh) is None


async def test_an_invitation_adds_a_member_once_and_is_audited(service: OrganiserService) -> None:
    """An invitation makes the invited person a member (an account when new), once; the
    network's audit says who invited whom and who joined."""
    anna = await service.create("anna@kommun.se")
    await service.add_member("net-a", anna, anna.email)
    secret = await service.invite("net-a", "Bo@Region.se", anna)
    accepted = await service.accept_invitation(secret)
    assert accepted is not None
    bo, network = accepted
    assert (bo.email, network) == ("bo@region.se", "net-a")
    assert await service.accept_invitation(secret) is None
    assert await service.is_member(bo.id, "net-a")
    assert not await service.is_member(bo.id, "net-b")
    assert [m.email for m in await service.members("net-a")] == ["anna@kommun.se", "bo@region.se"]
    assert [(e.who, e.what, e.detail) for e in await service.audit("net-a")] == [
        ("bo@region.se", "organiser.added", "bo@region.se"),
        ("anna@kommun.se", "organiser.invited", "bo@region.se"),
        ("anna@kommun.se", "organiser.added", "anna@kommun.se"),
    ]
    with pytest.raises(AccountError):
        await service.invite("net-a", "inte en adress", anna)


async def test_access_changes_from_a_console_are_audited(
    service: OrganiserService, store: SQLiteStore
) -> None:
    """A new moderator link or join code made by a console (not on an organiser page) is
    in the network's audit too, by "moderator console"; an organiser's by their email."""
    sessions = SessionService(store, MemoryBus())
    await sessions.import_programme(parse_programme(demo_programme_text(), "demo.yaml"))
    await sessions.load()
    sessions.audit_access = service.record_audit
    await sessions.rotate_moderator_token("ledarskap-2020-05-05")
    code = await sessions.regenerate_join_code("ledarskap-2020-05-05", by="anna@kommun.se")
    entries = await service.audit("ledarskap-och-innovation")
    assert [(e.who, e.what, e.detail) for e in entries] == [
        ("anna@kommun.se", "session.join_code", f"ledarskap-2020-05-05: {code}"),
        ("moderator console", "session.moderator_link", "ledarskap-2020-05-05"),
    ]
    assert await service.audit("temasessioner") == []


def test_every_audited_change_has_a_label_in_both_languages() -> None:
    """The audit page names each kind of change in words: the access changes and every
    programme change the editor records (its levels × create, edit, move, delete)."""
    source = Path(programme_pages.__file__).read_text("utf-8")
    actions = set(re.findall(r'f"\{(?:level|kind)\}\.(\w+)"', source))
    assert actions == {"create", "edit", "move", "delete"}, actions
    codes = {f"{level}.{action}" for level in programme_pages.LEVELS for action in actions}
    codes |= set(re.findall(r'"(\w+\.(?:create|copy))"', source))
    codes |= {
        "organiser.added",
        "organiser.removed",
        "organiser.invited",
        "session.settings",
        "session.join_code",
        "session.moderator_link",
    }
    # Schedule imports are audited under the names their pages pass to the audit call.
    schedules = Path(schedule_pages.__file__).read_text("utf-8")
    imported = set(re.findall(r'audit\(\s*request,\s*[\w.]+,\s*"(\w+\.\w+)"', schedules))
    assert "programme.import" in imported, imported
    codes |= imported
    # So are the changes of a network's member list.
    members = Path(organise_members.__file__).read_text("utf-8")
    member_codes = set(re.findall(r'audit\(\s*request,\s*[\w.]+,\s*"(member\.\w+)"', members))
    assert {"member.added", "member.imported", "member.revoked"} <= member_codes, member_codes
    codes |= member_codes
    for lang in ("sv", "en"):
        missing = sorted(c for c in codes if f"audit.{c}" not in catalogue(lang))
        assert missing == [], (lang, missing)
