"""`companion demo | serve | import FILE | links | migrate | retention run | organiser add
EMAIL` — the command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Collection
from importlib import resources
from pathlib import Path

from companion.backends import StoreURLError, open_store
from companion.backends.base import StoreUnavailable
from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore
from companion.migrate import MigrationError, MigrationReport, migrate
from companion.programme_file import ProgrammeError, parse_programme
from companion.runtime import run_server, store_url
from companion.services.organisers import AccountError, OrganiserService
from companion.services.retention import Retention, describe
from companion.services.sessions import SessionService
from companion.settings import Settings, load_settings


def demo_programme_text() -> str:
    """The demo programme shipped with the package."""
    return resources.files("companion").joinpath("demo/programme.yaml").read_text("utf-8")


async def import_text(settings: Settings, text: str, filename: str) -> SessionService:
    """Parse and store a programme; nothing is stored if the file has an error."""
    programme = parse_programme(text, filename)
    store = open_store(store_url(settings))
    await store.open()
    try:
        service = SessionService(store, MemoryBus())
        await service.import_programme(programme)
        await service.load()
        return service
    finally:
        await store.close()


async def load_service(settings: Settings) -> SessionService:
    """A loaded service, for printing links."""
    store = open_store(store_url(settings))
    await store.open()
    try:
        service = SessionService(store, MemoryBus())
        await service.load()
        return service
    finally:
        await store.close()


async def run_retention(settings: Settings, dry_run: bool, today: dt.date | None) -> int:
    """`companion retention run`: print, per session, what is (or would be) deleted."""
    store = open_store(store_url(settings))
    await store.open()
    try:
        if not dry_run and isinstance(store, SQLiteStore) and not store.hold(exclusive=True):
            print(
                "error: a server is running on this database and keeps its sessions in "
                "memory; it deletes on time by itself once a day. Stop it to run this now, "
                "or add --dry-run to see what is due.",
                file=sys.stderr,
            )
            return 2
        service = SessionService(store, MemoryBus())
        await service.load()
        clock = time.time
        if today is not None:
            noon = dt.datetime.combine(today, dt.time(12)).timestamp()
            clock = lambda: noon  # noqa: E731
        found = await Retention(service, settings.retention_days, clock).run(dry_run)
        for due in found:
            print(describe(due, dry_run))
        what = "would be cleared" if dry_run else "cleared"
        print(f"{len(found)} sessions {what} of personal data")
        return 0
    finally:
        await store.close()


async def run_migration(source_url: str, target_url: str) -> MigrationReport:
    """Open both stores and copy everything from one to the other."""
    source, target = open_store(source_url), open_store(target_url)
    await source.open()
    try:
        await target.open()
        try:
            return await migrate(source, target)
        finally:
            await target.close()
    finally:
        await source.close()


DEMO_ORGANISER = "demo@example.org"


async def add_organiser(
    settings: Settings, email: str, networks: list[str], every_network: bool
) -> str:
    """Make (or find) an organiser account, add it to networks, and return a one-time
    sign-in link with which they set a password. No password is ever printed."""
    store = open_store(store_url(settings))
    await store.open()
    try:
        service = SessionService(store, MemoryBus())
        await service.load()
        known = {n.id for n in service.programme.networks}
        unknown = [n for n in networks if n not in known]
        if unknown:
            raise AccountError(f"no network with id {', '.join(unknown)}")
        organisers = OrganiserService(store)
        organiser = await organisers.find(email)
        if organiser is None:
            organiser = await organisers.create(email)
        for network_id in sorted(known) if every_network else networks:
            if not await organisers.is_member(organiser.id, network_id):
                await organisers.add_member(network_id, organiser, "companion organiser add")
        secret = await organisers.signin_link(organiser)
        return f"{settings.base_url}/organise/link/{secret}"
    finally:
        await store.close()


def demo_session_ids() -> set[str]:
    """The sessions of the demo programme shipped with the package."""
    programme = parse_programme(demo_programme_text(), "demo/programme.yaml")
    return {session.id for _, _, _, session in programme.sessions()}


def print_links(
    settings: Settings, service: SessionService, moderator_links: Collection[str] = ()
) -> None:
    """For every session: its join code, participant link and screen link, and the
    moderator link only for the sessions in `moderator_links`.

    A moderator link carries the session's secret token, so it is printed only where a
    person asked for it (`links`, the local demo), never by `serve`, whose output ends up
    in service logs.
    """
    base = settings.base_url
    print(f"Companion on {base}  (realtime: {settings.ws_url})")
    hidden = 0
    for _network, _season, event, session in service.programme.sessions():
        access = service.access.get(session.id)
        if access is None:
            continue
        when = f"{event.date} " if event.date else ""
        title = event.title if session.title == event.title else f"{event.title} — {session.title}"
        print(f"\n{when}{title}")
        print(f"  join code:   {access.join_code}")
        print(f"  participant: {base}/j/{access.join_code}")
        print(f"  big screen:  {base}/screen/{access.join_code}")
        if session.id in moderator_links:
            print(f"  moderator:   {base}/moderate/{session.id}#key={access.moderator_token}")
        else:
            hidden += 1
    if hidden:
        print(f"\nModerator links ({hidden}) are not printed here: run `companion links`.")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="companion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="load the demo programme (once) and serve it")
    sub.add_parser("serve", help="serve what the database holds")
    imp = sub.add_parser("import", help="import a programme YAML file")
    imp.add_argument("file", type=Path)
    sub.add_parser("links", help="print join codes and links of every session")
    mig = sub.add_parser("migrate", help="copy everything to another store, e.g. SQLite -> Redis")
    mig.add_argument("--from", dest="source", required=True, help="sqlite:///FILE or redis://...")
    mig.add_argument(
        "--to", dest="target", required=True, help="redis://HOST:PORT/DB or sqlite:///FILE"
    )
    ret = sub.add_parser("retention", help="delete personal data whose time is up")
    ret_sub = ret.add_subparsers(dest="action", required=True)
    ret_run = ret_sub.add_parser(
        "run", help="delete the personal data of every session past its retention period"
    )
    ret_run.add_argument("--dry-run", action="store_true", help="only print what would be deleted")
    ret_run.add_argument(
        "--today", type=dt.date.fromisoformat, help="count the periods as if today were YYYY-MM-DD"
    )
    org = sub.add_parser("organiser", help="organiser accounts")
    org_sub = org.add_subparsers(dest="action", required=True)
    org_add = org_sub.add_parser(
        "add", help="make an account (or a new sign-in link) and print a one-time sign-in link"
    )
    org_add.add_argument("email")
    org_add.add_argument(
        "--network", action="append", default=[], help="a network id to join (repeatable)"
    )
    org_add.add_argument("--all-networks", action="store_true", help="join every network")
    args = parser.parse_args(argv)
    settings = load_settings().with_secret()

    try:
        if args.command == "import":
            try:
                text = args.file.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                print(f"{args.file}: cannot read: {exc}", file=sys.stderr)
                return 2
            service = asyncio.run(import_text(settings, text, str(args.file)))
            print_links(settings, service)
            return 0
        if args.command == "migrate":
            report = asyncio.run(run_migration(args.source, args.target))
            print(f"copied {report.sessions} sessions and {report.events} events")
            print(f"copied {report.organisers} organiser accounts with memberships and audit")
            return 0
        if args.command == "retention":
            return asyncio.run(run_retention(settings, args.dry_run, args.today))
        if args.command == "organiser":
            try:
                link = asyncio.run(
                    add_organiser(settings, args.email, args.network, args.all_networks)
                )
            except AccountError as exc:
                print(f"error: {_account_message(exc)}", file=sys.stderr)
                return 2
            print(f"Sign-in link for {args.email.strip().lower()} (works once, for 24 hours):")
            print(link)
            return 0
        if args.command == "links":
            service = asyncio.run(load_service(settings))
            print_links(settings, service, moderator_links=service.access.keys())
            return 0
        if args.command == "demo":
            service = asyncio.run(load_service(settings))
            if not service.programme.networks:
                asyncio.run(import_text(settings, demo_programme_text(), "demo/programme.yaml"))
            shown = demo_session_ids()  # the demo's own data only, never a real programme's
            # The demo organiser belongs to the demo's own networks, never a real programme's.
            demo_networks = {
                n.id for n in parse_programme(demo_programme_text(), "demo").networks
            } & {n.id for n in asyncio.run(load_service(settings)).programme.networks}
            organiser_link = asyncio.run(
                add_organiser(settings, DEMO_ORGANISER, sorted(demo_networks), False)
            )

            def on_ready(s: SessionService) -> None:
                print_links(settings, s, shown)
                print(f"\norganiser ({DEMO_ORGANISER}), one-time sign-in: {organiser_link}")
                sys.stdout.flush()

            run_server(settings, on_ready=on_ready)
            return 0
        run_server(settings, on_ready=lambda s: print_links(settings, s))
    except (ProgrammeError, MigrationError, StoreUnavailable, StoreURLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _account_message(exc: AccountError) -> str:
    messages = {
        "organise.error_email": "that is not an email address",
        "organise.error_email_taken": "that email already has an account",
    }
    return messages.get(exc.key, exc.key)


if __name__ == "__main__":
    sys.exit(main())
