"""DKIM signing domain → the service that signed (`dkim_service`), from `data/signers.csv`.

The table (columns `service,suffix,documented_at`) lists the signing-domain suffixes that mail
services put in `d=` when they sign for a customer who has not set up their own key, each with
the public page that documents it. A signer matches a suffix when it equals it or ends with
`.` + suffix; the longest suffix wins (the same rule as the report vendors, whose matcher this
reuses). A signer in the header From's own organization is `self`; an unknown one is `other`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from survey import DATA_DIR
from survey.errors import InputError
from survey.schema.flow_columns import OTHER_SERVICE, SELF_SERVICE
from survey.verdict.psl import organizational_domain
from survey.verdict.vendors import VendorTable

DEFAULT_SIGNERS = DATA_DIR / "signers.csv"
COLUMNS = ("service", "suffix", "documented_at")


@dataclass(frozen=True, slots=True)
class SignerTable:
    """Signing-domain suffixes of known services (`data/signers.csv`)."""

    suffixes: VendorTable

    @classmethod
    def from_rows(cls, rows: list[dict[str, str]], source: str = "signer table") -> SignerTable:
        """Build from `service,suffix,documented_at` rows; every fact needs its source."""
        for number, row in enumerate(rows, 2):
            if not all((row.get(name) or "").strip() for name in COLUMNS):
                raise InputError(f"{source}, line {number}: service, suffix and documented_at")
        pairs = [(row["service"], row["suffix"]) for row in rows]
        return cls(VendorTable.from_rows(pairs))

    @classmethod
    def load(cls, path: Path = DEFAULT_SIGNERS) -> SignerTable:
        try:
            with Path(path).open(encoding="utf-8", newline="") as lines:
                reader = csv.DictReader(lines)
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"cannot read the signer table {path}: {exc}") from exc
        if not set(COLUMNS) <= set(reader.fieldnames or ()):
            raise InputError(f"signer table {path}: needs the columns {','.join(COLUMNS)}")
        return cls.from_rows(rows, str(path))

    def service_of(self, signer: str, header_from_org: str) -> str:
        """`self`, the service of the longest matching suffix, or `other`."""
        if organizational_domain(signer) == header_from_org:
            return SELF_SERVICE
        return self.suffixes.vendor_by_suffix(signer) or OTHER_SERVICE
