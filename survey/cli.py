"""The `survey` command line: parses options, calls the library, prints. No logic of its own."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from survey import scan as scan_module
from survey.errors import SurveyError
from survey.resolver import ResolverSettings, parse_nameserver
from survey.snapshot import default_label

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure how the Internet authenticates mail: DMARC and SPF of many domains.",
)
lab_app = typer.Typer(no_args_is_help=True, help="The offline lab: a synthetic zone on loopback.")
app.add_typer(lab_app, name="lab")

DEFAULT_SNAPSHOTS = Path("data/snapshots")

NameserverOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--nameserver",
        "-n",
        help="Resolver to ask, HOST or HOST:PORT ([::1]:53 for IPv6); repeatable. "
        "Default: the system resolver.",
    ),
]
ConcurrencyOpt = Annotated[
    int, typer.Option(min=1, max=100_000, help="Questions in flight at most.")
]
TimeoutOpt = Annotated[float, typer.Option(min=0.01, help="Seconds to wait for one try.")]
TriesOpt = Annotated[
    int, typer.Option(min=1, max=20, help="Tries per question (timeout/SERVFAIL).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")]


def _settings(
    nameserver: list[str] | None, concurrency: int, qps: float | None, timeout: float, tries: int
) -> ResolverSettings:
    servers = tuple(parse_nameserver(s) for s in nameserver or ())
    return ResolverSettings(
        nameservers=servers, concurrency=concurrency, qps=qps, timeout=timeout, tries=tries
    )


@app.command()
def scan(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Domain list to scan.")],
    label: Annotated[
        str | None, typer.Option(help="Snapshot label (default: current YYYY-MM).")
    ] = None,
    snapshots: Annotated[Path, typer.Option(help="Folder of snapshots.")] = DEFAULT_SNAPSHOTS,
    nameserver: NameserverOpt = None,
    concurrency: ConcurrencyOpt = 500,
    qps: Annotated[
        float | None, typer.Option(min=0.1, help="Queries per second at most.")
    ] = None,
    timeout: TimeoutOpt = 2.0,
    tries: TriesOpt = 3,
    chunk_size: Annotated[int, typer.Option(min=1, help="Domains per Parquet part.")] = (
        scan_module.DEFAULT_CHUNK_SIZE
    ),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted scan.")] = False,
    report_auth: Annotated[
        bool,
        typer.Option(
            "--report-auth/--no-report-auth",
            help="Check external report destinations (RFC 7489 §7.1).",
        ),
    ] = True,
    psl_file: Annotated[
        Path | None, typer.Option("--psl", help="Public suffix list file to use.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Scan a domain list into a dated Parquet snapshot."""
    from survey.progress import ScanDisplay

    options = scan_module.ScanOptions(
        input_path=input_path,
        snapshots=snapshots,
        label=label or default_label(),
        resolver=_settings(nameserver, concurrency, qps, timeout, tries),
        chunk_size=chunk_size,
        resume=resume,
        report_auth=report_auth,
        psl_path=psl_file,
    )
    if not input_path.is_file():
        raise SurveyError(f"input file not found: {input_path}")
    with ScanDisplay(enabled=not quiet) as display:
        summary = scan_module.run_scan(options, display.update)
    if not quiet:
        display.print_summary(summary)
    if summary.status != "complete":
        raise typer.Exit(3)


@app.command()
def check(
    domains: Annotated[list[str], typer.Argument(metavar="DOMAIN...", help="Domains to check.")],
    nameserver: NameserverOpt = None,
    timeout: TimeoutOpt = 2.0,
    tries: TriesOpt = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per domain.")] = False,
) -> None:
    """Show one domain's DMARC and SPF records, verdicts and problems."""
    from survey.check import check_domains, render_text

    results = check_domains(domains, _settings(nameserver, 50, None, timeout, tries))
    for result in results:
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            typer.echo(render_text(result))


@lab_app.command("generate")
def lab_generate(
    domains: Annotated[int, typer.Option(min=1, help="How many domains.")] = 2000,
    out: Annotated[Path, typer.Option(help="Folder to write the lab to.")] = Path("lab"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    epoch: Annotated[int, typer.Option(min=0, help="0 this month, 1 the next.")] = 0,
) -> None:
    """Write a synthetic zone, its domain list and the expected verdicts."""
    from survey.lab.generate import generate_lab

    paths = generate_lab(domains, out, seed=seed, epoch=epoch)
    typer.echo(f"lab of {domains} domains written to {out}")
    typer.echo(str(paths))


@lab_app.command("serve")
def lab_serve(
    folder: Annotated[Path, typer.Argument(help="A folder written by `survey lab generate`.")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1.")] = 5353,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
) -> None:
    """Serve a lab zone on loopback (UDP and TCP) until interrupted."""
    from survey.lab.serve import LabServer

    with LabServer(folder / "root.zone", host=host, port=port) as server:
        typer.echo(f"serving {folder} on {host}:{server.port} (UDP and TCP); Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            server.wait()


def main() -> None:
    """Console entry point: one clear line and a non-zero exit for every expected failure."""
    try:
        code = app(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("survey: interrupted", err=True)
        sys.exit(130)
    except SurveyError as exc:
        typer.echo(f"survey: error: {exc}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
