"""The `survey` command line: parses options, calls the library, prints. No logic of its own."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pyarrow import ArrowException

from survey.dns.settings import DnsClient, ResolverSettings, parse_nameserver
from survey.errors import SurveyError
from survey.scan import pipeline as scan_module
from survey.store.snapshot import default_label

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure how the Internet authenticates mail: DMARC and SPF of many domains.",
)
lab_app = typer.Typer(no_args_is_help=True, help="The offline lab: a synthetic zone on loopback.")
app.add_typer(lab_app, name="lab")

DEFAULT_SNAPSHOTS = Path("data/snapshots")
DEFAULT_FLOWS = Path("data/flows")

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
DkimSelectorsOpt = Annotated[
    str,
    typer.Option(
        "--dkim-selectors",
        metavar="default|extended|FILE",
        help="DKIM selectors to probe: the bundled `default` tier (8 common selectors), "
        "`extended` (default and 21 more), or a CSV file with a `selector` column "
        "(optionally `provider`).",
    ),
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
    input_path: Annotated[
        Path | None,
        typer.Argument(metavar="INPUT", help="Domain list to scan (not with --retry-unresolved)."),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="Snapshot label (default: current YYYY-MM).")
    ] = None,
    snapshots: Annotated[Path, typer.Option(help="Folder of snapshots.")] = DEFAULT_SNAPSHOTS,
    nameserver: NameserverOpt = None,
    concurrency: ConcurrencyOpt = 500,
    qps: Annotated[float | None, typer.Option(min=0.1, help="Queries per second at most.")] = None,
    timeout: TimeoutOpt = 2.0,
    tries: TriesOpt = 3,
    chunk_size: Annotated[int, typer.Option(min=1, help="Domains per Parquet part.")] = (
        scan_module.DEFAULT_CHUNK_SIZE
    ),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted scan.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            max=256,
            help="Processes scanning chunks; --concurrency and --qps are shared among them. "
            "0: one per CPU, while each keeps 50 questions in flight.",
        ),
    ] = 0,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="tcp://HOST:PORT",
            help="Scan on the workers of this Dask scheduler (`dask scheduler`, `dask worker`); "
            "the snapshot folder must be on a filesystem every worker mounts at the same path. "
            "--concurrency and --qps are shared among the workers' threads.",
        ),
    ] = None,
    retry_unresolved: Annotated[
        Path | None,
        typer.Option(
            "--retry-unresolved",
            metavar="SNAPSHOT",
            help="Instead of scanning INPUT: ask again only the domains of the snapshot folder "
            "SNAPSHOT whose lookups got no answer (type unresolved, or a report-authorization "
            "lookup failed), and update that snapshot in place. Takes the resolver options; "
            "not INPUT, --label or --resume.",
        ),
    ] = None,
    report_auth: Annotated[
        bool,
        typer.Option(
            "--report-auth/--no-report-auth",
            help="Check external report destinations (RFC 7489 §7.1).",
        ),
    ] = True,
    spf_eval: Annotated[
        bool,
        typer.Option(
            "--spf-eval/--no-spf-eval",
            help="Evaluate each SPF record as a receiver does: its include and redirect tree, "
            "the 10-lookup and void-lookup limits (the spf_lookups … columns; off: null).",
        ),
    ] = True,
    psl_file: Annotated[
        Path | None, typer.Option("--psl", help="Public suffix list file to use.")
    ] = None,
    dkim: Annotated[
        bool,
        typer.Option(
            "--dkim/--no-dkim",
            help="Ask DNS about the domain's DKIM keys: `_domainkey.<d>`, then the selectors of "
            "--dkim-selectors when it is not NXDOMAIN.",
        ),
    ] = True,
    dkim_selectors: DkimSelectorsOpt = "default",
    quiet: QuietOpt = False,
    dns_client: Annotated[
        DnsClient,
        typer.Option(
            "--dns-client",
            help="DNS client behind the resolver pool: survey (our own) or aiodns (c-ares).",
        ),
    ] = DnsClient.SURVEY,
) -> None:
    """Scan a domain list into a dated Parquet snapshot, or retry a snapshot's unresolved domains.

    Exit status: 0 complete, 2 error (one line on stderr), 3 the snapshot is not complete
    (interrupted: continue with --resume, or re-run --retry-unresolved)."""
    settings = _settings(nameserver, concurrency, qps, timeout, tries)
    settings = dataclasses.replace(settings, client=dns_client.value)
    if retry_unresolved is not None:
        _refuse_with_retry(input_path, label, resume, cluster)
        _run_scan(lambda progress: _retry(retry_unresolved, settings, psl_file, progress), quiet)
        return
    if input_path is None:
        raise typer.BadParameter("missing INPUT: the domain list to scan")
    options = scan_module.ScanOptions(
        input_path=input_path,
        snapshots=snapshots,
        label=label or default_label(),
        resolver=settings,
        chunk_size=chunk_size,
        resume=resume,
        report_auth=report_auth,
        spf_eval=spf_eval,
        psl_path=psl_file,
        workers=workers or (1 if cluster else scan_module.default_workers(settings.concurrency)),
        cluster=cluster,
        dkim_selectors=dkim_selectors if dkim else None,
    )
    if not input_path.is_file():
        raise SurveyError(f"input file not found: {input_path}")
    _run_scan(lambda progress: scan_module.run_scan(options, progress), quiet)


def _refuse_with_retry(
    input_path: Path | None, label: str | None, resume: bool, cluster: str | None
) -> None:
    options = (("INPUT", input_path), ("--label", label), ("--resume", resume))
    given = [n for n, v in (*options, ("--cluster", cluster)) if v]
    if given:
        raise typer.BadParameter(
            f"--retry-unresolved takes the snapshot folder itself; drop {', '.join(given)}"
        )


def _retry(
    folder: Path,
    settings: ResolverSettings,
    psl_file: Path | None,
    progress: scan_module.Progress,
) -> scan_module.ScanSummary:
    from survey.scan.retry import RetryOptions, run_retry

    return run_retry(RetryOptions(folder, settings, psl_path=psl_file), progress)


def _run_scan(
    start: Callable[[scan_module.Progress], scan_module.ScanSummary], quiet: bool
) -> None:
    from survey.cli.progress import ScanDisplay
    from survey.store.snapshot import arrow_without_pandas

    arrow_without_pandas()  # a scan never needs pandas (reports load it)
    with ScanDisplay(enabled=not quiet) as display:
        summary = start(display.update)
    if not quiet:
        display.print_summary(summary)
    if summary.status != "complete":
        typer.echo(f"survey: snapshot {summary.folder} is {summary.status}, not complete", err=True)
        raise typer.Exit(3)


@app.command()
def flows(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUT...",
            help="DMARC aggregate reports (.xml, .xml.gz, .zip), mail-flow tables (CSV, "
            "Parquet), or folders of them.",
        ),
    ],
    label: Annotated[
        str | None, typer.Option(help="Flow snapshot label (default: current YYYY-MM).")
    ] = None,
    flows_dir: Annotated[
        Path, typer.Option("--flows", help="Folder of flow snapshots.")
    ] = DEFAULT_FLOWS,
    files_per_part: Annotated[
        int, typer.Option(min=1, help="Input files per Parquet part (and per resume step).")
    ] = 100,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run.")] = False,
    max_report_mb: Annotated[
        int, typer.Option(min=1, max=4096, help="MiB of one report once decompressed, at most.")
    ] = 64,
    max_ratio: Annotated[
        int, typer.Option(min=2, help="Decompressed ÷ compressed size of a gzip or member.")
    ] = 200,
    max_members: Annotated[int, typer.Option(min=1, help="Members of one zip, at most.")] = (
        10_000
    ),
    signers: Annotated[
        Path | None, typer.Option(help="Signer table (service,suffix,documented_at).")
    ] = None,
    psl_file: Annotated[
        Path | None, typer.Option("--psl", help="Public suffix list file to use.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Read DMARC aggregate reports and mail-flow tables into a flow snapshot.

    Exit status: 0 complete, 2 error (one line on stderr), 3 not complete (interrupted:
    continue with --resume)."""
    from survey.flows.archive import MIB, Limits
    from survey.flows.pipeline import FlowOptions, run_flows
    from survey.flows.signers import DEFAULT_SIGNERS

    options = FlowOptions(
        inputs=tuple(inputs),
        flows=flows_dir,
        label=label or default_label(),
        files_per_part=files_per_part,
        resume=resume,
        limits=Limits(document_bytes=max_report_mb * MIB, ratio=max_ratio, members=max_members),
        psl_path=psl_file,
        signers_path=signers or DEFAULT_SIGNERS,
    )
    summary = run_flows(options)
    if not quiet:
        typer.echo(_flow_summary(summary.folder, summary.manifest))
    if summary.status != "complete":
        typer.echo(f"survey: flows {summary.folder} is {summary.status}, not complete", err=True)
        raise typer.Exit(3)


def _flow_summary(folder: Path, manifest: dict[str, object]) -> str:
    counts = manifest["accounting"]
    assert isinstance(counts, dict)
    lines = [
        f"flows written: {folder} ({manifest['status']})",
        f"  files {counts['files']:,}; documents {counts['documents']:,} = parsed "
        f"{counts['parsed']:,} + rejected {counts['rejected']:,}",
        f"  records {counts['records']:,} = rows {counts['rows']:,} + rejected "
        f"{counts['records_rejected']:,}; messages {counts['messages']:,}",
    ]
    rejects = manifest.get("rejects") or {}
    assert isinstance(rejects, dict)
    if rejects:
        lines.append("  rejects: " + ", ".join(f"{k} {v:,}" for k, v in rejects.items()))
    return "\n".join(lines)


@app.command()
def check(
    domains: Annotated[list[str], typer.Argument(metavar="DOMAIN...", help="Domains to check.")],
    nameserver: NameserverOpt = None,
    timeout: TimeoutOpt = 2.0,
    tries: TriesOpt = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per domain.")] = False,
    dkim_selectors: DkimSelectorsOpt = "extended",
) -> None:
    """Show one domain's DMARC, SPF and DKIM records, verdicts and problems."""
    from survey.scan.check import check_domains, render_text

    settings = _settings(nameserver, 50, None, timeout, tries)
    results = check_domains(domains, settings, dkim_selectors)
    for result in results:
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            typer.echo(render_text(result))


PptxOpt = Annotated[
    bool, typer.Option("--pptx", help="Also the slide deck report.pptx (16:9, a chart a slide).")
]
SourceOpt = Annotated[
    str | None,
    typer.Option(help="The source note under every slide (default: the scan and its date)."),
]


@app.command()
def report(
    snapshot: Annotated[
        Path, typer.Argument(help="A snapshot folder: a DNS snapshot or a flow snapshot.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: reports/<label>).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Chart language: en or ja.")] = "en",
    top: Annotated[
        int | None, typer.Option(min=1, help="Also tables for the top N domains.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Chart formats, comma separated.")
    ] = "png,svg",
    allow_incomplete: Annotated[
        bool, typer.Option(help="Report a snapshot whose scan did not complete.")
    ] = False,
    pptx: PptxOpt = False,
    source: SourceOpt = None,
    dns: Annotated[
        Path | None,
        typer.Option(
            metavar="SNAPSHOT",
            help="With a flow snapshot: join it with this complete DNS snapshot (of the same "
            "month) for the messages by the From domain's published DMARC policy.",
        ),
    ] = None,
) -> None:
    """Write the charts, the tables (CSV) and report.md of one snapshot (DNS or flows)."""
    from survey.report.flow_write import write_any_report

    target = out or Path("reports") / snapshot.name
    path = write_any_report(
        snapshot, target, lang=_lang(lang), top=top, formats=_formats(fmt),
        allow_incomplete=allow_incomplete, dns=dns, pptx=pptx, source=source,
    )  # fmt: skip
    typer.echo(f"report written: {path}")
    if pptx:
        typer.echo(f"deck written: {path.with_name('report.pptx')}")


@app.command()
def scorecard(
    watchlist: Annotated[Path, typer.Argument(help="CSV: domain, optional group and name.")],
    snapshot: Annotated[Path, typer.Argument(help="A snapshot folder.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: reports/<label>/scorecard).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Language: en or ja.")] = "en",
    fmt: Annotated[
        str, typer.Option("--format", help="Grid formats, comma separated.")
    ] = "png,svg",
    nameserver: NameserverOpt = None,
    timeout: TimeoutOpt = 2.0,
    tries: TriesOpt = 3,
) -> None:
    """A watch list's DMARC, SPF, DKIM and DNSSEC: a table and a slide-ready grid.

    Domains the snapshot lacks are checked on the spot with --nameserver, else shown as not
    scanned (never as absent)."""
    from survey.report.scorecard_out import make_scorecard

    check = None
    if nameserver:
        from survey.scan.check import check_domains

        settings = _settings(nameserver, 50, None, timeout, tries)
        check = functools.partial(check_domains, settings=settings)
    target = out or Path("reports") / snapshot.name / "scorecard"
    files = make_scorecard(watchlist, snapshot, target, _lang(lang), _formats(fmt), check)
    typer.echo(f"scorecard written: {', '.join(str(f) for f in files)}")


@app.command()
def trend(
    snapshots: Annotated[
        Path, typer.Argument(help="Folder of snapshots (DNS snapshots, flow snapshots).")
    ] = DEFAULT_SNAPSHOTS,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("reports/trend"),
    lang: Annotated[str, typer.Option(help="Chart language: en or ja.")] = "en",
    fmt: Annotated[
        str, typer.Option("--format", help="Chart formats, comma separated.")
    ] = "png,svg",
    pptx: PptxOpt = False,
    source: SourceOpt = None,
    watchlist: Annotated[
        Path | None,
        typer.Option(help="Also follow a watch list (CSV: domain, group, name) over the months."),
    ] = None,
) -> None:
    """Tables and charts of every complete snapshot over time (DNS snapshots, flow snapshots;
    a folder of both gets both trends, the flow one in OUT/flows)."""
    from survey.report.flow_write import write_any_trends

    written = write_any_trends(
        snapshots, out, lang=_lang(lang), formats=_formats(fmt), pptx=pptx, source=source
    )
    for path in written:
        typer.echo(f"trend written: {path}")
        if pptx and path.with_name("report.pptx").is_file():
            typer.echo(f"deck written: {path.with_name('report.pptx')}")
    if watchlist is not None:
        from survey.report.watch_trend import watch_trend

        files = watch_trend(snapshots, watchlist, out / "watchlist", _lang(lang), _formats(fmt))
        typer.echo(f"watch list over time written: {files[0].parent}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes everything.")] = Path("demo"),
    domains: Annotated[int, typer.Option(min=50, max=200_000, help="Lab size.")] = 2000,
    lang: Annotated[str, typer.Option(help="Chart language: en or ja.")] = "en",
    quiet: QuietOpt = False,
) -> None:
    """Offline: generate a lab, serve it on 127.0.0.1, scan it twice, write report and trend."""
    from survey.cli.demo import run_demo

    def say(line: str) -> None:
        if not quiet:
            typer.echo(line)

    result = run_demo(out, domains=domains, lang=_lang(lang), say=say)
    typer.echo(f"snapshots: {result.snapshots}")
    typer.echo(f"report:    {result.report}")
    typer.echo(f"trend:     {result.trend}")
    typer.echo(f"decks:     {result.report.with_name('report.pptx')}, "
               f"{result.trend.with_name('report.pptx')}")  # fmt: skip


def _lang(lang: str) -> str:
    if lang not in ("en", "ja"):
        raise typer.BadParameter(f"--lang must be en or ja, not {lang!r}")
    return lang


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in ("png", "svg")]
    if bad or not formats:
        raise typer.BadParameter(f"--format takes png and/or svg, not {text!r}")
    return formats


@lab_app.command("generate")
def lab_generate(
    domains: Annotated[int, typer.Option(min=1, help="How many domains.")] = 2000,
    out: Annotated[Path, typer.Option(help="Folder to write the lab to.")] = Path("lab"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    epoch: Annotated[int, typer.Option(min=0, help="0 this month, 1 the next.")] = 0,
    reports: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also write DMARC aggregate reports for this many reporting domains (and a "
            "flow table of as many others, and hostile files) into <out>/reports, with the "
            "expected flows: input for `survey flows`.",
        ),
    ] = 0,
) -> None:
    """Write a synthetic zone, its domain list and the expected verdicts."""
    from survey.lab.generate import generate_lab

    paths = generate_lab(domains, out, seed=seed, epoch=epoch)
    typer.echo(f"lab of {domains} domains written to {out}")
    typer.echo(str(paths))
    if reports:
        from survey.lab.reports import write_flow_lab

        typer.echo(str(write_flow_lab(out, reports)))


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
            threading.Event().wait()  # serve until Ctrl-C


def main() -> None:
    """Console entry point: one clear line and a non-zero exit for every expected failure.

    Usage errors (typer's, exit 2), our errors and OS errors (a file that cannot be read, a
    full disk; exit 2) all become one `survey: error: …` line on stderr, no traceback."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        code = 130
    except typer.TyperException as exc:  # typer 0.29's click exceptions: usage errors and kin
        _fail(_usage_line(exc), getattr(exc, "exit_code", 2))
    except SurveyError as exc:
        _fail(str(exc), 2)
    except OSError as exc:
        _fail(os_error_line(exc), 2)
    except ArrowException as exc:
        _fail(f"cannot read or write Parquet: {exc}", 2)
    if code == 130:
        typer.echo("survey: interrupted", err=True)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_line(exc: typer.TyperException) -> str:
    context = getattr(exc, "ctx", None)
    command = context.command_path if context is not None else "survey"
    return f"{exc.format_message()} (see `{command} --help`)"


def _fail(message: str, code: int) -> NoReturn:
    line = " ".join(message.split())  # one line, whatever the message held
    typer.echo(f"survey: error: {line}", err=True)
    sys.exit(code)


def os_error_line(exc: OSError) -> str:
    """`Permission denied: data/snapshots/x` rather than `[Errno 13] ...`."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason}: {exc.filename}" if exc.filename else reason
