"""``uncops``: one command for every process of the platform, the development token and pledge imports.

It stands above services/ and workflows/: `serve` runs services/<context>/app.py, `worker` runs
workflows/<context>/worker.py.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import signal
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from services.common.settings import CONSOLE, PARTNERS, SERVICES, Settings, get_settings
from uncops.import_pledges import add_import_parser, import_pledges
from uncops.rekey import add_rekey_parsers, new_key, rekey

if TYPE_CHECKING:
    from services.common.runtime import ServiceDefinition, ServiceRuntime


def load_service(name: str) -> ServiceDefinition:
    # Imported on demand: `uncops token` should not pay for loading every service.
    definition: ServiceDefinition = importlib.import_module(f"services.{name}.app").SERVICE
    return definition


def load_worker(name: str) -> ModuleType | None:
    """workflows/<name>/worker.py: WORKFLOWS and activities(runtime), or None for a context without one."""
    if importlib.util.find_spec(f"workflows.{name}.worker") is None:
        return None
    return importlib.import_module(f"workflows.{name}.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="uncops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="print a development token the local stack accepts")
    token.add_argument(
        "--role", required=True, help="conduct_officer, state_focal_point, planner, partner, admin"
    )
    token.add_argument("--member-state", help="ISO 3166 alpha-3 code, required for state_focal_point")
    token.add_argument(
        "--mission",
        action="append",
        dest="missions",
        metavar="MISSION",
        help="a mission the holder serves (repeatable; e.g. MINUSCA); '*' or none: every mission",
    )
    token.add_argument("--subject", help="the token's sub claim (default: a generated one)")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds (default 8 hours)")

    for name, help_text in (
        ("serve", "run a service's HTTP API (and, unless UNCOPS_BACKGROUND=false, its relay and consumers)"),
        ("relay", "run a service's outbox relay alone"),
        ("consume", "run a service's Kafka consumers alone"),
        ("worker", "run a service's Temporal worker"),
        ("migrate", "apply a service's database migrations"),
    ):
        sub = commands.add_parser(name, help=help_text)
        # The console and the partner gateway serve, consume and migrate their own databases; only the three
        # have workers and publish events (a relay).
        choices = {"worker": SERVICES, "relay": SERVICES}.get(name, (*SERVICES, PARTNERS, CONSOLE))
        sub.add_argument("service", choices=choices)
    commands.add_parser("topics", help="create the Kafka topics and their DLQs")
    add_import_parser(commands)
    add_rekey_parsers(commands)  # issue 20: confidential data at rest

    args = parser.parse_args(argv)
    if args.command == "new-key":
        return new_key()
    settings = get_settings()
    if args.command == "rekey":
        return rekey(settings, args)
    if args.command == "token":
        return _token(settings, args)
    if args.command == "import-pledges":
        return import_pledges(settings, args)
    if args.command == "topics":
        from services.common.kafka import ensure_topics

        created = asyncio.run(ensure_topics(settings))
        print(f"created: {', '.join(created) or 'none (all exist)'}")
        return 0
    if args.command == "migrate":
        from services.common import observability
        from services.common.migrations import upgrade

        observability.configure(f"{args.service}-migrate", settings.log_level)

        upgrade(args.service, settings.database_url(args.service))
        return 0
    if args.command == "serve":
        return _serve(settings, args.service)
    return asyncio.run(_background(settings, args.command, args.service))


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from services.common.auth import Role, issue_token

    try:
        role = Role(args.role)
    except ValueError:
        print(f"unknown role {args.role!r}; one of: {', '.join(r.value for r in Role)}", file=sys.stderr)
        return 2
    member_state = args.member_state.upper() if args.member_state else None
    if role is Role.STATE_FOCAL_POINT and not member_state:
        print("a state_focal_point token needs --member-state (ISO 3166 alpha-3)", file=sys.stderr)
        return 2
    if member_state is not None:
        from uncops_contracts.reference import is_member_state

        if not is_member_state(member_state):
            print(f"{member_state} is not the ISO 3166 alpha-3 code of a UN Member State", file=sys.stderr)
            return 2
    missions = list(dict.fromkeys(m.upper() for m in args.missions)) if args.missions else None
    if missions is not None:
        from uncops_contracts.reference import is_mission

        if "*" in missions and len(missions) > 1:
            print("--mission '*' means every mission: give it alone, or mission codes", file=sys.stderr)
            return 2
        unknown = [m for m in missions if m != "*" and not is_mission(m)]
        if unknown:
            print(
                f"{', '.join(unknown)}: not the code of a UN peace operation with UN Police "
                "(contracts/uncops_contracts/data/missions.csv)",
                file=sys.stderr,
            )
            return 2
    print(
        issue_token(
            settings, role, member_state, subject=args.subject, ttl_seconds=args.ttl, missions=missions
        )
    )
    return 0


def _serve(settings: Settings, service: str) -> int:
    import uvicorn

    from services.common import observability

    # Before uvicorn starts: its own records (uvicorn.error) then go out as JSON like the rest.
    observability.configure(service, settings.log_level)

    if service == CONSOLE:
        from services.console.app import create

        app = create(settings)
    else:
        from services.common.app import create_app

        app = create_app(load_service(service), settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port(service),
        log_level="warning",
        # Its handlers and text formats left out: its records reach the root logger's JSON handler
        # (services/common/observability.py); the access log is the middleware's (services/common/app.py).
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


async def _background(settings: Settings, command: str, service: str) -> int:
    from services.common import observability
    from services.common.runtime import ServiceRuntime

    observability.configure(f"{service}-{command}", settings.log_level)
    if settings.metrics_port:
        # Issue 20: every worker, relay and consumer process serves /metrics, by default on 9100.
        from services.common.metrics import serve_metrics

        serve_metrics(settings.metrics_port, settings.host)
    runtime = ServiceRuntime(load_service(service), settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    try:
        if command == "worker":
            await _run_worker(runtime)
        else:
            runtime.start_background(relay=command == "relay", consumers=command == "consume")
            await runtime.wait_background()
    finally:
        await runtime.close()
    return 0


async def _run_worker(runtime: ServiceRuntime) -> None:
    from services.common.observability import get_logger
    from services.common.temporal import build_worker, task_queue

    log = get_logger(__name__)
    registered = load_worker(runtime.name)
    if registered is None:
        log.error("no workflows", service=runtime.name)
        return
    client = await runtime.temporal()
    queue = task_queue(runtime.name)
    worker = build_worker(client, queue, registered.WORKFLOWS, registered.activities(runtime))
    async with worker:
        log.info("worker polling", task_queue=queue)
        await runtime.stopped()


if __name__ == "__main__":
    sys.exit(main())
