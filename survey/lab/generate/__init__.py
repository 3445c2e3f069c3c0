"""The lab generator: a synthetic root zone of DMARC, SPF and DKIM records whose verdicts are
known.

Every domain is planned along five independent dimensions — what sits at `_dmarc.<d>` (the
"DMARC case"), where its reports go (the "report case"), what SPF it publishes (the "SPF case"),
what sits under `_domainkey.<d>` (the "DKIM case", `dkim_cases.py`: real keys, provider CNAMEs,
a wildcard…), and, for a subdomain, how it relates to its organizational domain and the names
in between (the "sub case"). Each case writes its records as text AND states the truth about
them (tags as written, problem codes by RFC 7489 and by RFC 9989, report destinations, keys);
the expected verdicts are computed from that truth with the verdict rules of the specs
(`truth.py` for RFC 7489 §6.6.3, `truth9989.py` for the RFC 9989 tree walk over every `_dmarc`
record the lab wrote, with the PSD record at `_dmarc.co.jp`; `dkim_cases.py` for DKIM), never
by running the survey's own parsers or walk. Each case appears at least `MIN_PER_CASE` times
once the lab is big enough, the rest follow weights close to today's Internet. `epoch=1, 2, …`
replays the same lab "a month later" with ~10% of domains changed.
"""

from survey.lab.generate.dkim_cases import DKIM_CASES
from survey.lab.generate.dmarc_cases import DMARC_CASES
from survey.lab.generate.files import CASE_COLUMNS, LabPaths, generate_lab
from survey.lab.generate.plan import MIN_PER_CASE, WORDS, evolve, plan_lab
from survey.lab.generate.reports import REPORT_CASES
from survey.lab.generate.spf_cases import SPF_CASES
from survey.lab.generate.sub_cases import SUB_CASES
from survey.lab.generate.truth import EXPECTED_SCHEMA

__all__ = [
    "CASE_COLUMNS",
    "DKIM_CASES",
    "DMARC_CASES",
    "EXPECTED_SCHEMA",
    "MIN_PER_CASE",
    "REPORT_CASES",
    "SPF_CASES",
    "SUB_CASES",
    "WORDS",
    "LabPaths",
    "evolve",
    "generate_lab",
    "plan_lab",
]
