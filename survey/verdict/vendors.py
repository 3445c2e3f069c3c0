"""Report URI host → the vendor that receives DMARC reports there (RFC 7489 §7: rua/ruf).

`data/vendors.csv` (columns `vendor,suffix`) lists the host suffixes of report vendors. A host
matches a suffix when it equals it or ends with `.` + suffix; the longest matching suffix wins
(so a specific `emaildefense.proofpoint.com` beats a general `proofpoint.com`). Before that, a
host in the policy domain's own organization (same organizational domain, RFC 7489 §3.2) is
`self`, even when that organization is itself a vendor. Every other host is `other`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from survey import DATA_DIR
from survey.errors import InputError
from survey.input.names import normalise
from survey.verdict.psl import organizational_domain

DEFAULT_TABLE = DATA_DIR / "vendors.csv"
SELF = "self"
OTHER = "other"
_HOST_CACHE_SIZE = 65_536  # report hosts repeat: the vendors' own, and each domain's in a row


def registrable_domain(host: str) -> str:
    """The registrable (organizational, RFC 7489 §3.2) domain of a report host, to list the
    destinations that are `other`: `dmarc.mail.example.co.uk` → `example.co.uk`."""
    return organizational_domain(host)


@dataclass(frozen=True, slots=True)
class VendorTable:
    """Host suffix → vendor name; suffixes lower case, A-labels, no trailing dot."""

    by_suffix: dict[str, str]
    #: host as given → (normalised host, vendor by suffix): both depend on the table alone.
    _hosts: dict[str, tuple[str, str | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]]) -> VendorTable:
        """Build from (vendor, suffix) pairs; InputError on an empty, reserved or clashing one."""
        by_suffix: dict[str, str] = {}
        for vendor, raw_suffix in rows:
            name, suffix = vendor.strip(), normalise(raw_suffix)
            if not name or not suffix or name in (SELF, OTHER):
                raise InputError(f"vendor table: unusable row {vendor!r},{raw_suffix!r}")
            if by_suffix.get(suffix, name) != name:
                raise InputError(f"vendor table: suffix {suffix} listed for two vendors")
            by_suffix[suffix] = name
        return cls(by_suffix)

    @classmethod
    def load(cls, path: Path = DEFAULT_TABLE) -> VendorTable:
        """Read a `vendor,suffix` CSV file."""
        try:
            with Path(path).open(encoding="utf-8", newline="") as lines:
                rows = list(csv.DictReader(lines))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the vendor table {path}: {exc}") from exc
        if rows and not {"vendor", "suffix"} <= rows[0].keys():
            raise InputError(f"vendor table {path}: needs the columns vendor,suffix")
        return cls.from_rows((row["vendor"] or "", row["suffix"] or "") for row in rows)

    def vendor_by_suffix(self, host: str) -> str | None:
        """The vendor of the longest listed suffix that `host` equals or ends with `.`+ of."""
        labels = normalise(host).split(".")
        for start in range(len(labels)):  # longest candidate first
            vendor = self.by_suffix.get(".".join(labels[start:]))
            if vendor is not None:
                return vendor
        return None

    def vendor_of(self, host: str, policy_org_domain: str) -> str:
        """`self` when `host` is in the policy domain's organization, else its vendor or `other`."""
        known = self._hosts.get(host)
        if known is None:
            if len(self._hosts) >= _HOST_CACHE_SIZE:
                self._hosts.clear()
            name = normalise(host)
            known = self._hosts[host] = (name, self.vendor_by_suffix(name) if name else None)
        name, vendor = known
        if not name:
            return OTHER
        if organizational_domain(name) == organizational_domain(policy_org_domain):
            return SELF
        return vendor or OTHER
