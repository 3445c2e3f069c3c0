"""The DNSSEC lab: a generated lab whose root zone is signed and a share of whose domains live in
child zones of their own, signed by Knot or not, a few of them broken; with the truth about
each domain's `dnssec` as a validating resolver must see it (issue 15 point 2).

`sign_lab(folder)` turns a lab written by `survey.lab.generate.generate_lab` into one:

- each chosen domain's records (the domain and every name below it) move out of `root.zone`
  into `zones/<domain>.zone`, and the root delegates the domain to `ns.lab.` (RFC 1034 §4.2.1);
- keys are made before anything is served (`keymgr`, Knot's key manager, into `keys/`, one
  ECDSA P-256 key signing each zone, RFC 6605), so that the DS records (RFC 4034 §5) go into
  the root zone as the generator writes it, and the trust anchor is known (the root's DS);
- `SignedKnotServer` serves the root and the child zones, Knot signing them at load (automatic
  signing with these keys, NSEC for denials);
- the truth goes into `expected.parquet` (`dnssec`, and for a bogus domain the unresolved row
  every validating resolver leaves it) and `dnssec.json` (the case of each delegated domain,
  the child zones, the trust anchor).

The cases, and why each is what it is (RFC 4035 §5, RFC 4033 §5):

- `root`: in the signed root zone: secure (signed by the anchored key);
- `signed`: a child zone signed by Knot, its DS in the root: secure (the chain holds);
- `unsigned`: a child zone without DNSSEC and no DS (the root's NSEC proves there is none):
  insecure;
- `wrong_ds`: signed by Knot, but the DS in the root has a digest matching no key of the zone:
  bogus;
- `ds_unsigned`: a DS in the root, the zone served without signatures: bogus;
- `expired`: signed by Knot with signatures valid `EXPIRED_SIGNATURE_DAYS`, where every other
  zone's last `SIGNATURE_DAYS`; the lab's validator lives `VALIDATOR_DAYS_AHEAD` days ahead
  (between the two: `UnboundServer(override_date=...)`), when they have run out: bogus.

A bogus domain's every answer is SERVFAIL through a validating resolver: its expected row is
the unresolved one (statuses `error`, nothing else), whatever its records say.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from survey.errors import LabError
from survey.lab.generate import EXPECTED_SCHEMA
from survey.lab.knot import KnotServer, soa_answers
from survey.lab.zonefile import DEFAULT_TTL

SECURE, INSECURE, BOGUS = "secure", "insecure", "bogus"
#: The case of a delegated domain → the `dnssec` a validating resolver gives it.
CHILD_CASES = {
    "signed": SECURE,
    "unsigned": INSECURE,
    "wrong_ds": BOGUS,
    "ds_unsigned": BOGUS,
    "expired": BOGUS,
}
ROOT_CASE = "root"
MIN_PER_CASE = 4
DELEGATED_SHARE = 0.1
SIGNATURE_DAYS = 90  # the lifetime of every signature but the `expired` case's
EXPIRED_SIGNATURE_DAYS = 1
VALIDATOR_DAYS_AHEAD = 30  # between the two: the `expired` zone's signatures ran out
ALGORITHM = "ecdsap256sha256"  # RFC 6605, algorithm 13
ZONES_DIR = "zones"
KEYS_DIR = "keys"
PLAN_FILE = "dnssec.json"
_SIGNED_CASES = frozenset({"signed", "wrong_ds", "expired"})  # Knot signs these zones
_DS_CASES = frozenset({"signed", "wrong_ds", "ds_unsigned", "expired"})  # a DS in the root


@dataclass(frozen=True, slots=True)
class DnssecLab:
    """What `sign_lab` made: the delegated domains by case, and the root's trust anchor."""

    folder: Path
    cases: dict[str, str]  # delegated domain → case
    trust_anchor: str  # the root's DS record, as Unbound's `trust-anchor:` takes it

    @classmethod
    def load(cls, folder: Path) -> DnssecLab:
        plan = json.loads((Path(folder) / PLAN_FILE).read_text(encoding="utf-8"))
        return cls(Path(folder), plan["cases"], plan["trust_anchor"])

    def template(self, domain: str) -> str:
        """The Knot template of a child zone: signed (and for how long), or not."""
        case = self.cases[domain]
        if case not in _SIGNED_CASES:
            return "default"
        return "short" if case == "expired" else "signed"


def keymgr_path() -> str:
    found = shutil.which("keymgr") or shutil.which("keymgr", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise LabError("keymgr (Debian package knot) is not installed")
    return found


def sign_lab(folder: Path | str, seed: int = 1, share: float = DELEGATED_SHARE) -> DnssecLab:
    """Delegate a share of the lab's domains to child zones, make the keys, write the DS
    records, the trust anchor and the truth (module docstring)."""
    folder = Path(folder)
    cases = choose_cases(_standalone(folder), seed, share)
    keys = folder / KEYS_DIR
    for zone in [".", *(d for d, case in cases.items() if case in _DS_CASES)]:
        _keymgr(keys, zone, "generate", f"algorithm={ALGORITHM}", "ksk=yes", "zsk=yes")
    _split_zone(folder, cases, {d: _ds(keys, d, cases[d]) for d in cases if cases[d] in _DS_CASES})
    lab = DnssecLab(folder, cases, _ds(keys, ".", "root"))
    _write_truth(folder, cases)
    plan = {"cases": cases, "trust_anchor": lab.trust_anchor, "seed": seed}
    (folder / PLAN_FILE).write_text(json.dumps(plan, indent=2, sort_keys=True) + "\n")
    return lab


def sign_root(folder: Path | str) -> DnssecLab:
    """Only the root zone signed, nothing delegated: every domain secure through a validator
    (the benchmark's signed lab: what the DO bit costs when every answer is signed)."""
    folder = Path(folder)
    _keymgr(folder / KEYS_DIR, ".", "generate", f"algorithm={ALGORITHM}", "ksk=yes", "zsk=yes")
    lab = DnssecLab(folder, {}, _ds(folder / KEYS_DIR, ".", ROOT_CASE))
    plan = {"cases": {}, "trust_anchor": lab.trust_anchor}
    (folder / PLAN_FILE).write_text(json.dumps(plan, indent=2, sort_keys=True) + "\n")
    return lab


def _standalone(folder: Path) -> list[str]:
    """Domains that are nobody's subdomain or parent in the lab: a child zone of their own
    changes nothing for another domain (no §6.6.3 fallback crosses it)."""
    cases = pq.read_table(folder / "cases.parquet", columns=["domain", "parent"]).to_pylist()
    domains = {row["domain"] for row in cases}
    related = {row["parent"] for row in cases if row["parent"]}
    related |= {row["domain"] for row in cases if row["parent"]}
    below = {d.split(".", 1)[1] for d in domains if "." in d}  # any name with a lab name under it
    return sorted(domains - related - below)


def choose_cases(candidates: list[str], seed: int, share: float) -> dict[str, str]:
    """Each child case for `max(MIN_PER_CASE, share × domains / cases)` domains, drawn with a
    seeded generator; the rest stay in the root zone."""
    rng = random.Random(f"{seed}/dnssec")
    drawn = rng.sample(candidates, len(candidates))
    per_case = max(MIN_PER_CASE, round(len(candidates) * share / len(CHILD_CASES)))
    if per_case * len(CHILD_CASES) > len(drawn):
        raise LabError(f"{len(drawn)} standalone domains: too few for {per_case} of each case")
    wanted = [case for case in CHILD_CASES for _ in range(per_case)]
    return dict(zip(drawn, wanted, strict=False))


def _keymgr(keys: Path, zone: str, *command: str) -> str:
    keys.mkdir(exist_ok=True)
    name = zone if zone.endswith(".") else f"{zone}."
    run = subprocess.run(
        [keymgr_path(), "-D", str(keys), name, *command], capture_output=True, text=True
    )
    if run.returncode != 0:
        raise LabError(f"keymgr {name} {' '.join(command)}: {run.stderr.strip() or run.stdout}")
    return run.stdout


def _ds(keys: Path, zone: str, case: str) -> str:
    """The zone's DS record with a SHA-256 digest (RFC 4509); for `wrong_ds`, with its last
    digest digit changed, so that it matches no key."""
    lines = [line for line in _keymgr(keys, zone, "ds").splitlines() if " DS " in line]
    ds = next(line for line in lines if line.split()[4] == "2").strip()
    if case == "wrong_ds":
        ds = ds[:-1] + ("0" if ds[-1] != "0" else "1")
    return ds


def _split_zone(folder: Path, cases: dict[str, str], ds: dict[str, str]) -> None:
    """Move each delegated domain's lines into its own zone file; the root keeps a delegation
    (NS, with the DS when the case has one)."""
    root = folder / "root.zone"
    kept: list[str] = []
    moved: dict[str, list[str]] = {domain: [] for domain in cases}
    for line in root.read_text(encoding="ascii").splitlines(keepends=True):
        owner = _owner_domain(line, cases)
        (moved[owner] if owner else kept).append(line)
    for domain in sorted(cases):
        kept.append(f"{domain}. NS ns.lab.\n")
        if domain in ds:
            kept.append(ds[domain] + "\n")
        _write_child(folder / ZONES_DIR / f"{domain}.zone", domain, moved[domain])
    root.write_text("".join(kept), encoding="ascii")


def _owner_domain(line: str, domains: dict[str, str]) -> str | None:
    """The delegated domain a zone line's owner is at or below, None otherwise."""
    if line.startswith(("$", ";", " ", "\t")) or not line.strip():
        return None
    labels = line.split(None, 1)[0].rstrip(".").split(".")
    for i in range(len(labels)):
        suffix = ".".join(labels[i:])
        if suffix in domains:
            return suffix
    return None


def _write_child(path: Path, domain: str, lines: Iterable[str]) -> None:
    path.parent.mkdir(exist_ok=True)
    head = (
        f"$ORIGIN .\n$TTL {DEFAULT_TTL}\n"
        f"{domain}. SOA ns.lab. hostmaster.lab. 1 7200 3600 1209600 300\n"
        f"{domain}. NS ns.lab.\n"
    )
    path.write_text(head + "".join(lines), encoding="ascii")


def _write_truth(folder: Path, cases: dict[str, str]) -> None:
    """expected.parquet as a validating resolver sees the signed lab."""
    path = folder / "expected.parquet"
    rows = pq.read_table(path).to_pylist()
    for row in rows:
        case = cases.get(row["domain"], ROOT_CASE)
        if case == ROOT_CASE:
            row["dnssec"] = SECURE
        elif CHILD_CASES[case] == BOGUS:
            row.update(_unresolved(row))
        else:
            row["dnssec"] = CHILD_CASES[case]
    pq.write_table(pa.Table.from_pylist(rows, schema=EXPECTED_SCHEMA), path)


def _unresolved(row: dict[str, object]) -> dict[str, object]:
    """The row of a domain none of whose lookups is answered: statuses `error`, no type, no
    record, no problem found (nothing was read), `dnssec` bogus, and the SPF evaluation
    `temperror` (a lookup it needs, the domain's own TXT, failed; no counts, no targets)."""
    blank: dict[str, object] = {}
    for field in EXPECTED_SCHEMA:
        if field.name in ("domain", "org_domain"):
            continue
        blank[field.name] = [] if pa.types.is_list(field.type) else None
    statuses = ("dmarc_status", "spf_status", "dmarc9989_status", "dkim_status")
    # the DKIM verdict names the outcome of its first question: SERVFAIL, as every one; the SPF
    # evaluation is temperror (the domain's own TXT failed), without counts or targets
    failed = {"dnssec": BOGUS, "dkim_domainkey_lookup": "servfail"}
    spf = {"spf_result": "temperror", "spf_includes": None}
    return blank | dict.fromkeys(statuses, "error") | failed | spf


# -- serving -------------------------------------------------------------------------------

POLICIES = f"""\
policy:
  - id: lab
    manual: on
    single-type-signing: on
    algorithm: {ALGORITHM}
    nsec3: off
    rrsig-lifetime: {SIGNATURE_DAYS}d
    signing-threads: 2
  - id: short
    manual: on
    single-type-signing: on
    algorithm: {ALGORITHM}
    nsec3: off
    rrsig-lifetime: {EXPIRED_SIGNATURE_DAYS}d
"""
TEMPLATES = """\
  - id: signed
    storage: "{run}"
    semantic-checks: off
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    dnssec-signing: on
    dnssec-policy: lab
  - id: short
    storage: "{run}"
    semantic-checks: off
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    dnssec-signing: on
    dnssec-policy: short
"""


class SignedKnotServer(KnotServer):
    """Knot serving a signed lab (`sign_lab`): the root zone signed, each child zone as its
    case says, with the keys of the lab's `keys/`."""

    # Knot signs at load before it answers: about a minute for the 200,000-domain lab's root
    # on one core of this VM.
    start_timeout = 600.0

    def __init__(
        self, lab: DnssecLab, port: int | None = None, receive_buffer: int | None = None
    ) -> None:
        super().__init__(lab.folder, port, receive_buffer)
        self.lab = lab

    def _config(self) -> str:
        base = super()._config()
        run = self._tmp.name if self._tmp else ""
        keys = (self.lab.folder / KEYS_DIR).resolve()
        base = base.replace(f'    storage: "{run}"\n\ntemplate:', f'    storage: "{run}"\n'
                            f'    kasp-db: "{keys}"\n\n{POLICIES}\ntemplate:')  # fmt: skip
        base = base.replace("\nzone:\n", "\n" + TEMPLATES.format(run=run) + "\nzone:\n")
        root = f'  - domain: .\n    file: "{self.zone_file}"\n'
        zones = [root + "    template: signed\n"]
        for domain in sorted(self.lab.cases):
            path = (self.lab.folder / ZONES_DIR / f"{domain}.zone").resolve()
            zones.append(f'  - domain: {domain}.\n    file: "{path}"\n'
                         f"    template: {self.lab.template(domain)}\n")  # fmt: skip
        return base.replace(root, "".join(zones))

    def _wait_until_ready(self, began: float) -> None:
        """The root answers first; each child zone is loaded (and signed) on its own."""
        super()._wait_until_ready(began)
        for domain in sorted(self.lab.cases):
            while not soa_answers(self.port, self.host, zone=domain):
                if time.monotonic() - began > self.start_timeout:
                    self._fail(f"knotd did not load the zone {domain} in time")
                time.sleep(0.02)
