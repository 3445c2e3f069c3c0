"""checkdmarc on the lab: the DMARC and SPF checks of each domain, one domain after another.

Runs in its own venv (bench-out/.venv-checkdmarc), so it imports nothing of the survey.
checkdmarc passes `nameservers` entries that are `dns.nameserver.Nameserver` objects through
to dnspython untouched (plain strings become port-53 servers), so the lab's loopback port is
given as a `Do53Nameserver(address, port)`. `check_dmarc` + `check_spf` are the checks that
match the survey's questions (DMARC with organizational fallback and report authorization,
SPF); `check_domains` would add MX, NS, SOA, DNSSEC, MTA-STS and BIMI questions.

    python scripts/bench_checkdmarc.py DOMAINS RESULT --nameserver 127.0.0.1 --port PORT
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import checkdmarc
import dns.nameserver
import dns.query
from checkdmarc.dmarc import check_dmarc
from checkdmarc.spf import check_spf

QUERIES: Counter[str] = Counter()


def _counted(transport: str, send):  # type: ignore[no-untyped-def]
    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        QUERIES[transport] += 1
        return send(*args, **kwargs)

    return counting


# dnspython's Do53Nameserver calls these through the module: count every query sent.
dns.query.udp = _counted("udp", dns.query.udp)
dns.query.tcp = _counted("tcp", dns.query.tcp)


def check_one(domain: str, nameservers: list, timeout: float) -> tuple[str, str]:
    dmarc = check_dmarc(domain, nameservers=nameservers, timeout=timeout)
    spf = check_spf(domain, nameservers=nameservers, timeout=timeout)
    return _verdict(dmarc), _verdict(spf)


def _verdict(result: dict) -> str:
    if result.get("valid"):
        return "valid"
    error = str(result.get("error", ""))
    return "timeout" if "timed out" in error.lower() or "timeout" in error.lower() else "invalid"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domains", type=Path, help="one domain a line")
    parser.add_argument("result", type=Path)
    parser.add_argument("--nameserver", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    domains = args.domains.read_text().split()
    nameservers = [dns.nameserver.Do53Nameserver(args.nameserver, args.port)]
    outcomes: Counter[str] = Counter()
    began = time.monotonic()
    for domain in domains:
        dmarc, spf = check_one(domain, nameservers, args.timeout)
        outcomes[f"dmarc_{dmarc}"] += 1
        outcomes[f"spf_{spf}"] += 1
    elapsed = time.monotonic() - began
    result = {
        "domains": len(domains),
        "questions": sum(QUERIES.values()),
        "elapsed": elapsed,
        "outcomes": dict(outcomes),
        "checkdmarc": getattr(checkdmarc, "__version__", "?"),
    }
    args.result.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
