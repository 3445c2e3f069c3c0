"""Where a lab domain's reports go: vendors' real-looking hosts, its own, third parties."""

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from survey import DATA_DIR
from survey.errors import LabError
from survey.lab.generate.model import Plan, ReportUri, mix, pick, token

THIRD_PARTY_WORDS = ("mailguard", "reportbox", "inboxwatch", "postsafe", "mxshield", "rptdesk")

#: Where each vendor's reports really go: (rua host, ruf host, local part or None for a token).
VENDOR_HOSTS = {
    "agari.com": ("rua.agari.com", "ruf.agari.com", None),
    "dmarcian.com": ("ag.dmarcian.com", "fr.dmarcian.com", None),
    "dmarcian.eu": ("ag.dmarcian.eu", "fr.dmarcian.eu", None),
    "vali.email": ("vali.email", "vali.email", "dmarc_agg"),
    "valimail.com": ("rua.valimail.com", "ruf.valimail.com", None),
    "ondmarc.com": ("inbox.ondmarc.com", "inbox.ondmarc.com", None),
    "uriports.com": ("report.uriports.com", "report.uriports.com", None),
    "report-uri.com": ("report-uri.com", "report-uri.com", None),
    "mailhardener.com": ("dmarc.mailhardener.com", "dmarc.mailhardener.com", None),
}
VENDOR_WEIGHTS = {
    "agari.com": 4,
    "dmarcian.com": 5,
    "vali.email": 5,
    "emaildefense.proofpoint.com": 5,
    "dmarc-reports.cloudflare.net": 6,
    "easydmarc.us": 2,
    "ondmarc.com": 2,
}


@dataclass(frozen=True, slots=True)
class VendorSite:
    vendor: str
    suffix: str
    rua_host: str
    ruf_host: str
    local: str | None


def load_vendor_sites(path: Path = DATA_DIR / "vendors.csv") -> tuple[VendorSite, ...]:
    """Vendors of data/vendors.csv with real-looking report hosts, repeated by weight."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise LabError(f"cannot read vendor table {path}: {exc}") from exc
    sites = []
    for row in rows:
        suffix = row["suffix"].strip().lower()
        rua, ruf, local = VENDOR_HOSTS.get(suffix, _default_hosts(suffix))
        site = VendorSite(row["vendor"].strip(), suffix, rua, ruf, local)
        sites.extend([site] * VENDOR_WEIGHTS.get(suffix, 1))
    return tuple(sites)


def _default_hosts(suffix: str) -> tuple[str, str, str | None]:
    if suffix.count(".") >= 2:  # already a report host, e.g. emaildefense.proofpoint.com
        return suffix, suffix, None
    return f"rua.{suffix}", f"ruf.{suffix}", None


class Reports:
    """Builds the report URIs of one policy domain."""

    def __init__(self, sites: tuple[VendorSite, ...]) -> None:
        self.sites = sites

    def vendor(self, plan: Plan, forensic: bool = False, size: str = "") -> ReportUri:
        site = pick(plan.bits, 11, self.sites)
        host = site.ruf_host if forensic else site.rua_host
        local = site.local or token(plan.bits, 12 + forensic, 8)
        return ReportUri(f"mailto:{local}@{host}{size}", host, site.vendor, True)

    @staticmethod
    def own(plan: Plan, forensic: bool = False, size: str = "") -> ReportUri:
        local = "dmarc-forensic" if forensic else pick(plan.bits, 13, ("dmarc", "dmarc-reports"))
        host = pick(plan.bits, 14, (plan.name, plan.org)) if not forensic else plan.name
        return ReportUri(f"mailto:{local}@{host}{size}", host, "self", True)

    @staticmethod
    def other(plan: Plan, authorized: bool) -> ReportUri:
        word = pick(plan.bits, 15, THIRD_PARTY_WORDS)
        host = f"dmarc.{word}{mix(plan.bits, 16) % 400}.{pick(plan.bits, 17, ('com', 'net'))}"
        return ReportUri(f"mailto:reports@{host}", host, "other", authorized)


ReportBuilder = Callable[[Reports, Plan], tuple[tuple[ReportUri, ...], tuple[ReportUri, ...]]]
#: report case → (weight, builder of (rua, ruf)).
REPORT_CASES: dict[str, tuple[float, ReportBuilder]] = {
    "rua_vendor": (30, lambda r, p: ((r.vendor(p),), ())),
    "rua_self": (28, lambda r, p: ((r.own(p),), ())),
    "rua_self_vendor": (6, lambda r, p: ((r.own(p), r.vendor(p)), ())),
    "rua_other_authorized": (3, lambda r, p: ((r.other(p, True),), ())),
    "rua_other_unauthorized": (3, lambda r, p: ((r.other(p, False),), ())),
    "rua_size_limit": (1.5, lambda r, p: ((r.vendor(p, size="!10m"),), ())),
    "rua_ruf_vendor": (4, lambda r, p: ((r.vendor(p),), (r.vendor(p, forensic=True),))),
    "rua_ruf_self": (3, lambda r, p: ((r.own(p),), (r.own(p, forensic=True),))),
    "ruf_only": (1, lambda r, p: ((), (r.own(p, forensic=True),))),
    "ruf_other_unauthorized": (1, lambda r, p: ((r.own(p),), (r.other(p, False),))),
    "no_reports": (15, lambda r, p: ((), ())),
}
