"""`disaster-ai`: one console script on Flask's CLI. Every command that prints data takes --json.

Plugins add commands through dai_register_commands(cli). Every command, a plugin's included,
runs inside ``DeskGroup.invoke``: a database that is not initialised, not migrated or not
reachable, and a model that is not in place (``disaster_ai.errors.ModelMissing``), end the
command with one Japanese sentence naming the command to run, exit code 2 and no traceback."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, ScriptInfo, routes_command, shell_command, with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from disaster_ai import audit
from disaster_ai.auth import create_user, issue_token, validate_new_user
from disaster_ai.config import REPO_ROOT
from disaster_ai.errors import ModelMissing
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import User
from disaster_ai.types import ROLES, SYSTEM_ACTOR, SampleContext

DEMO_ROLES = ("admin", "operator", "approver")


def _echo(data, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(text if text is not None else data)


def _sample_dir(name: str) -> Path:
    for base in (Path.cwd() / "sample_data", REPO_ROOT / "sample_data"):
        candidate = base / name
        if (candidate / "sample.json").is_file():
            return candidate
    raise click.BadParameter(f"no sample kit '{name}' (looked for sample_data/{name}/sample.json)")


@click.command("init")
@click.option("--sample", help="Load a sample municipality from sample_data/NAME (e.g. yaizu).")
@click.option(
    "--demo-users/--no-demo-users",
    default=None,
    help="Create demo admin/operator/approver users (default: on with --sample).",
)
@click.option(
    "--municipality",
    "municipality_query",
    metavar="CODE",
    help="Set the municipality profile from the national table: 団体コード (232033), JIS code "
    "(23203) or name (一宮市; with --prefecture when several carry it).",
)
@click.option("--prefecture", help="With --municipality NAME: the prefecture (秋田県).")
@click.option(
    "--boundary",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --municipality: a 国土数値情報 N03 file holding the municipal outline.",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def init_command(sample, demo_users, municipality_query, prefecture, boundary, as_json):
    """Create or migrate the database; set the municipality profile (--municipality CODE);
    optionally load a sample municipality and demo users."""
    from disaster_ai.municipality import cli as municipality_cli
    from disaster_ai.municipality import profile as municipality_profile

    if municipality_query:  # a wrong code or an ambiguous name stops before anything changes
        municipality_cli.lookup_or_fail(municipality_query, prefecture)
    storage = get_storage()
    storage.migrate()
    report = {
        "database": storage.url.split("@")[-1],
        "revision": storage.current_revision(),
        "schema": {h["name"]: list(h["current"]) for h in storage.schema_status()},
        "sample": None,
        "loaded": [],
        "users": [],
        "municipality": None,
    }
    if sample:
        report["sample"] = sample
        report["loaded"] = _load_sample(sample)
    with session_scope(storage) as session:
        if municipality_query or boundary:
            report["municipality"] = municipality_cli.apply(
                session, query=municipality_query, prefecture=prefecture, boundary=boundary
            )
        elif municipality_profile.complete_from_table(session) is not None:
            report["municipality"] = municipality_profile.profile_dict(
                municipality_profile.current(session)
            )
    if demo_users if demo_users is not None else bool(sample):
        report["users"] = _create_demo_users()
    audit.record(
        "system.init",
        detail={
            "sample": sample,
            "loaded": report["loaded"],
            "municipality": (report["municipality"] or {}).get("jis_code"),
        },
        actor=SYSTEM_ACTOR,
    )
    lines = [f"database ready: {report['database']} (revision {report['revision']})"]
    lines += [f"loaded {item}" for item in report["loaded"]]
    if report["municipality"]:
        lines.append(municipality_cli.describe(report["municipality"]))
    else:
        lines.append(municipality_profile.missing_message())
    for user in report["users"]:
        if user.get("password"):
            lines.append(
                f"demo user {user['username']} ({user['role']}) password: {user['password']}"
                "  ← shown once; change it"
            )
        else:
            lines.append(
                f"demo user {user['username']} ({user['role']}) already exists; password unchanged"
            )
    _echo(report, as_json, "\n".join(lines))


def _load_sample(name: str) -> list[str]:
    directory = _sample_dir(name)
    manifest = json.loads((directory / "sample.json").read_text(encoding="utf-8"))
    pm = current_app.extensions["disaster_ai"]
    results = pm.hook.dai_load_sample(context=SampleContext(name, str(directory), manifest))
    return [summary for summary in reversed(results) if summary]


def _create_demo_users() -> list[dict]:
    """admin / operator / approver; passwords from DISASTER_AI_DEMO_PASSWORD_<ROLE> or random."""
    created = []
    with session_scope(get_storage()) as session:
        for role in DEMO_ROLES:
            if session.scalar(select(User).where(User.username == role)) is not None:
                created.append({"username": role, "role": role, "password": None})
                continue
            password = os.environ.get(
                f"DISASTER_AI_DEMO_PASSWORD_{role.upper()}"
            ) or secrets.token_urlsafe(12)
            create_user(session, role, role, password, display_name=f"demo {role}")
            created.append({"username": role, "role": role, "password": password})
    return created


class DeskError(click.ClickException):
    """A problem the operator fixes by running a command: its sentence alone, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(self.format_message(), err=True)


def database_problem(app, *, reachable_only: bool = False) -> str | None:
    """None when the database is at the newest revision; else the sentence that says what to do
    (in the desk's language; Japanese by default). ``reachable_only``: only say when it cannot
    be reached (for ``init`` itself, which a missing schema does not explain)."""
    storage = get_storage(app)
    with app.app_context():
        try:
            current = storage.current_revision()
            histories = storage.schema_status() if not reachable_only else []
        except SQLAlchemyError as exc:
            return _(
                "The database %(database)s cannot be reached (%(error)s). Check "
                "DISASTER_AI_DATABASE_URL, then run `disaster-ai init`.",
                database=storage.url.split("@")[-1],
                error=type(getattr(exc, "orig", None) or exc).__name__,
            )
        if reachable_only:
            return None
        legacy = [h for h in histories if h["name"] == "legacy"]
        if current is None and not legacy:
            return _("The database is not initialised. Run `disaster-ai init`.")
        for history in histories:  # the core's first, then each plugin's (storage/schema.py)
            if history["current"] != history["head"]:
                return _(
                    "The database is not up to date (revision %(current)s; this version needs "
                    "%(head)s). Run `disaster-ai init` to migrate it.",
                    current=", ".join(history["current"]) or "-",
                    head=", ".join(history["head"]) or _("the new layout"),
                )
    return None


def _require_migrated() -> None:
    problem = database_problem(current_app._get_current_object())
    if problem:
        raise DeskError(problem)


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(app, exc: BaseException, command: str | None = None) -> str | None:
    """The operator's sentence for an exception a command raised, or None (a real bug: the
    traceback stays)."""
    for cause in _causes(exc):
        if isinstance(cause, ModelMissing):
            with app.app_context():
                return _(
                    "The model %(path)s is not in place. Run `%(command)s`.",
                    path=cause.path,
                    command=cause.command,
                )
    if any(isinstance(cause, SQLAlchemyError) for cause in _causes(exc)):
        return database_problem(app, reachable_only=command == "init")
    return None


class DeskGroup(FlaskGroup):
    """The top-level group: the operator's errors (see the module doc) and, after a command that
    drew a map or a PDF, the warning when no Japanese font exists."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            app = _loaded_app(ctx)
            sentence = explain(app, exc, ctx.invoked_subcommand) if app is not None else None
            if sentence is None:
                raise
            raise DeskError(sentence) from None
        finally:
            _font_warning(ctx)


def _loaded_app(ctx):
    info = ctx.find_object(ScriptInfo)
    try:
        return info.load_app() if info is not None else None
    except Exception:
        return None


def _font_warning(ctx) -> None:
    from disaster_ai import fonts

    if not fonts.japanese_font.cache_info().currsize:  # this command drew no map nor PDF
        return
    app = _loaded_app(ctx)
    if app is None:
        return
    with app.app_context():
        message = fonts.missing_message()
    if message:
        click.echo(message, err=True)


@click.command("run")
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@click.option(
    "--worker/--no-worker",
    default=True,
    help="Run the jobs (in-process runner): a worker child process at WORKER_NICE.",
)
@click.option(
    "--worker-threads",
    is_flag=True,
    help="Run the jobs in threads of this web process instead of a child (each at WORKER_NICE).",
)
@click.option(
    "--scheduler/--no-scheduler", default=True, help="Supervise a scheduler child process."
)
@click.option("--threads", default=8, show_default=True)
@with_appcontext
def run_command(host, port, worker, worker_threads, scheduler, threads):
    """Serve the desk (waitress) with a job worker child process (`disaster-ai worker`, below the
    web's CPU priority) and a scheduler child process.

    SIGTERM and SIGINT stop it cleanly: the server stops accepting, and the children are stopped
    (SIGTERM, then SIGKILL after 10 s; the worker finishes its job) before the process exits."""
    _require_migrated()
    from waitress import create_server

    app = current_app._get_current_object()
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    server = create_server(app, host=host, port=port, threads=threads, ident="disaster-ai")
    runner = child = worker_child = None
    previous = {}

    def stop(signum, _frame):
        # waitress's loop ends on SystemExit; the finally below then stops the children
        raise SystemExit(0)

    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, stop)
        if worker and app.config["JOB_RUNNER"] == "inprocess" and worker_threads:
            from disaster_ai.jobs.service import runner_for

            runner = runner_for(app)
            runner.start()
        elif worker and app.config["JOB_RUNNER"] == "inprocess":
            # Its own process, so that transcription runs niced, never in the web's threads.
            from disaster_ai.jobs.priority import worker_environment

            worker_child = subprocess.Popen(
                [sys.executable, "-m", "disaster_ai.cli", "worker"],
                env=worker_environment(app.config),
            )
        if scheduler:
            # Its own process, never a thread of the web server (see docs/architecture.md).
            child = subprocess.Popen([sys.executable, "-m", "disaster_ai.cli", "scheduler"])
        click.echo(f"disaster-ai serving on http://{host}:{server.effective_port}")
        server.run()
    finally:
        # a second signal during the stop must not cut it short
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)
        server.close()
        for supervised in (child, worker_child):
            if supervised is not None:
                _stop_child(supervised)
        if runner is not None:
            runner.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        click.echo("disaster-ai stopped", err=True)


def _stop_child(child: subprocess.Popen, timeout: float = 10) -> None:
    if child.poll() is None:
        child.terminate()
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@click.command("worker")
@click.option("--concurrency", default=None, type=int)
@with_appcontext
def worker_command(concurrency):
    """Run a job worker: Celery when JOB_RUNNER=celery, else in-process threads; either way at
    niceness WORKER_NICE with WORKER_CPU_THREADS threads per numeric library. SIGTERM/SIGINT:
    the running jobs finish (up to 10 s), then it exits."""
    _require_migrated()
    from disaster_ai.jobs import priority
    from disaster_ai.jobs.service import runner_for

    app = current_app._get_current_object()
    priority.apply_to_process(app.config)  # before any thread or model exists
    runner = runner_for(app)
    if app.config["JOB_RUNNER"] == "celery":
        runner.run_worker(concurrency or 1)
        return
    if concurrency:
        app.config["JOB_WORKERS"] = concurrency
    runner.start()
    click.echo(f"in-process worker running ({app.config['JOB_WORKERS']} threads); Ctrl-C to stop")
    import threading

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1):
        pass
    runner.stop()


@click.command("scheduler")
@click.option("--list", "list_jobs", is_flag=True, help="List the scheduled jobs and exit.")
@click.option("--run", "run_job", metavar="JOB_ID", help="Run one scheduled job now and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@with_appcontext
def scheduler_command(list_jobs, run_job, as_json):
    """Run APScheduler in this process (never inside a web worker)."""
    _require_migrated()
    import time

    from disaster_ai.scheduler import registered_jobs, run_forever, run_now

    app = current_app._get_current_object()
    if list_jobs:
        jobs = [
            {"id": job_id, "trigger": str(spec.trigger)}
            for job_id, spec in sorted(registered_jobs(app).items())
        ]
        _echo(jobs, as_json, "\n".join(f"{j['id']}  {j['trigger']}" for j in jobs))
        return
    if run_job:
        try:
            run_now(app, run_job)
        except KeyError:
            raise click.UsageError(
                _("No scheduled job %(id)s: see `disaster-ai scheduler --list`.", id=run_job)
            ) from None
        click.echo(_("Ran %(id)s.", id=run_job))
        return

    # A plugin trigger built without timezone= takes the process's local zone: make that the
    # configured one, so "09:00" means 09:00 in Japan even on a UTC server.
    os.environ["TZ"] = current_app.config["TIMEZONE"]
    time.tzset()
    run_forever(app)


@click.group("users")
def users_group():
    """Manage users."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", default=None, help="Default: prompt (or generate with --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@click.option("--display-name", default="")
@click.option("--locale", type=click.Choice(["ja", "en"]), default="ja")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_create(username, role, password, generate, display_name, locale, as_json):
    """Create a user with a role."""
    if generate:
        password = secrets.token_urlsafe(12)
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with session_scope(get_storage()) as session:
        problems = validate_new_user(session, username, role, password)
        if problems:
            raise click.ClickException(
                "; ".join(f"{field}: {code}" for field, code in problems.items())
            )
        user = create_user(session, username, role, password, display_name, locale)
        audit.record(
            "user.create",
            target=f"user:{username}",
            detail={"role": role, "via": "cli"},
            actor=SYSTEM_ACTOR,
            session=session,
        )
        data = {"id": user.id, "username": username, "role": role}
    if generate:
        data["password"] = password
    _echo(
        data,
        as_json,
        f"created {username} ({role})" + (f" password: {password}" if generate else ""),
    )


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_list(as_json):
    """List users and roles."""
    with session_scope(get_storage()) as session:
        rows = [
            {
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "active": u.active,
                "locale": u.locale,
            }
            for u in session.scalars(select(User).order_by(User.id))
        ]
    _echo(
        rows,
        as_json,
        "\n".join(
            f"{r['username']:<20} {r['role']:<9} {'active' if r['active'] else 'inactive'}"
            for r in rows
        ),
    )


@users_group.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_token(username, name, as_json):
    """Issue an API token for a user (printed once)."""
    with session_scope(get_storage()) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user named {username}")
        token, plain = issue_token(session, user, name)
        audit.record(
            "token.create",
            target=f"token:{token.id}",
            detail={"user": username, "via": "cli"},
            actor=SYSTEM_ACTOR,
            session=session,
        )
    _echo({"username": username, "name": name, "token": plain}, as_json, plain)


@click.group("plugins")
def plugins_group():
    """Inspect plugins, or start a new one."""


@plugins_group.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(file_okay=False),
    help="Where to write the project folder NAME (default: here).",
)
@click.option("--title", default=None, help="The page's title (default: from NAME).")
@click.option("--json", "as_json", is_flag=True)
def plugins_new(name, directory, title, as_json):
    """Write a working plugin project NAME: a scheduled feed job (incidents, 提案), a table with
    its migration, a page, a test and a README. Then: pip install -e NAME && cd NAME && pytest."""
    from disaster_ai.scaffold import ScaffoldError, new_plugin

    try:
        root = new_plugin(name, directory, title)
    except ScaffoldError as exc:
        raise click.UsageError(
            _("Cannot make the plugin %(name)s: %(reason)s", name=name, reason=str(exc))
        ) from None
    files = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
    text = _(
        "Wrote the plugin %(name)s in %(path)s. Next: pip install -e %(path)s, then run pytest "
        "in that folder.",
        name=name,
        path=root,
    )
    _echo({"name": name, "path": str(root), "files": files}, as_json, text)


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def plugins_list(as_json):
    """Name, version, source, hooks and status of every plugin."""
    infos = current_app.extensions["disaster_ai"].describe()
    rows = [info.__dict__ for info in infos]
    text = "\n".join(
        f"{r['name']:<40} {r['version']:<8} {r['source']:<12} {r['status']:<7} "
        f"{', '.join(r['hooks'])}{'  ' + r['error'] if r['error'] else ''}"
        for r in rows
    )
    _echo(rows, as_json, text)


def build_cli(app) -> click.Group:
    cli = DeskGroup(
        name="disaster-ai",
        create_app=lambda: app,
        add_default_commands=False,
        load_dotenv=False,
        help="disaster-ai: the disaster-response desk.",
    )
    from disaster_ai.backup import backup_command, restore_command
    from disaster_ai.municipality.cli import municipality_group

    for command in (
        init_command,
        backup_command,
        restore_command,
        municipality_group,
        run_command,
        worker_command,
        scheduler_command,
        users_group,
        plugins_group,
        shell_command,
        routes_command,
    ):
        cli.add_command(command)
    from disaster_ai.plugins import safe_collect

    safe_collect(app.extensions["disaster_ai"], "dai_register_commands", cli=cli)
    return cli


def main(argv=None) -> None:
    from disaster_ai.app import create_app

    os.environ.setdefault("FLASK_RUN_FROM_CLI", "false")
    app = create_app()
    build_cli(app).main(args=argv, prog_name="disaster-ai")


if __name__ == "__main__":
    main()
