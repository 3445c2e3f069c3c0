"""What a lab domain publishes under `_domainkey`: the DKIM cases, and the truth about them.

Each case writes its key records (real keys: RSA of 512 to 4096 bits as SubjectPublicKeyInfo or
as a bare RSAPublicKey, ed25519; revoked, testing, malformed ones), selectors CNAMEd to provider
hosts (in the lab's own zone), selectors no list holds, a wildcard, and states what each record
is. The expected DKIM columns are worked out here from that truth and from the selectors of the
`default` list, as RFC 6376 §3.6 and the survey's README state the rules, never by running
the survey's parser.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from survey.lab.generate.dkim_keys import RSA_MODULI
from survey.lab.generate.model import Plan, mix, pick, token, verification_token
from survey.lab.zonefile import txt_line

#: The `default` selector list (data/dkim_selectors.csv, tier default), with the provider a
#: selector implies; written out here so that the truth does not read what the survey reads.
DEFAULT_SELECTORS = {
    "selector1": "Microsoft 365",
    "selector2": "Microsoft 365",
    "google": "Google Workspace",
    "k1": "Mailchimp",
    "s1": "SendGrid",
    "s2": "SendGrid",
    "default": None,
    "dkim": None,
}
#: CNAME target suffix → provider (data/dkim_providers.csv), for the hosts the lab writes.
TARGET_PROVIDERS = {
    "onmicrosoft.com": "Microsoft 365",
    "mcsv.net": "Mailchimp",
    "sendgrid.net": "SendGrid",
    "amazonses.com": "Amazon SES",
}
ERRORS = frozenset(
    {
        "tag_syntax",
        "duplicate_tag",
        "v_not_first",
        "v_invalid",
        "p_missing",
        "p_not_base64",
        "key_unparsable",
        "rsa_under_1024",
        "unknown_key_type",
        "sha1_only",
    }
)
MAILCHIMP_HOST = "dkim.mcsv.net"  # one key every Mailchimp customer's k1 points to


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One TXT text at a selector and what it is."""

    text: str
    key_type: str = "rsa"
    bits: int | None = None  # None: revoked, missing or unreadable
    revoked: bool = False
    codes: tuple[str, ...] = ()  # its problem codes, errors and warnings


@dataclass(frozen=True, slots=True)
class Selector:
    """What one selector name holds: key records (or other texts), here or behind a CNAME."""

    records: tuple[KeyRecord, ...] = ()
    other_texts: tuple[str, ...] = ()  # TXT that is no key record
    target: str | None = None  # CNAME target; its records are `records`
    target_exists: bool = True


@dataclass(frozen=True, slots=True)
class DkimTruth:
    """A domain's `_domainkey` subtree as written; `wildcard`: the records at `*._domainkey`."""

    selectors: dict[str, Selector] = field(default_factory=dict)
    wildcard: tuple[KeyRecord, ...] = ()
    at_domainkey: tuple[str, ...] = ()  # TXT at `_domainkey.<d>` itself (legacy DomainKeys)

    @property
    def exists(self) -> bool:
        return bool(self.selectors or self.wildcard or self.at_domainkey)

    def lines(self, domain: str) -> list[str]:
        """The zone lines under `_domainkey.<domain>` and the CNAME targets of its own."""
        base = f"_domainkey.{domain}"
        out = [txt_line(base, (text,)) for text in self.at_domainkey]
        out += [txt_line(f"*.{base}", (r.text,)) for r in self.wildcard]
        for name, selector in self.selectors.items():
            owner = f"{name}.{base}"
            if selector.target:
                out.append(f"{owner}. CNAME {selector.target}.\n")
                if selector.target == MAILCHIMP_HOST or not selector.target_exists:
                    continue  # written once for the lab (`shared_lines`), or nowhere
                owner = selector.target
            out += [txt_line(owner, (r.text,)) for r in selector.records]
            out += [txt_line(owner, (text,)) for text in selector.other_texts]
        return out

    def expected(self) -> tuple:
        """dkim_domainkey_lookup … dkim_warnings, for a scan with the `default` list."""
        if not self.exists:
            return ("nxdomain", "absent", [], [], [], [], [], [], [])
        lookup = "ok" if self.at_domainkey else "nodata"
        found: dict[str, Selector] = {}
        for name in sorted(DEFAULT_SELECTORS):
            selector = self.selectors.get(name)
            if selector is not None and selector.records and selector.target_exists:
                found[name] = selector
        # a listed selector without a record of its own gets the wildcard's: not a key of its own
        codes = {"wildcard_domainkey"} if self.wildcard else set()
        if not found:
            return (lookup, "none_found", [], [], [], [], [], [], sorted(codes))
        firsts = {name: s.records[0] for name, s in found.items()}
        for selector in found.values():
            codes.update(code for record in selector.records for code in record.codes)
            if len(selector.records) > 1:
                codes.add("multiple_records")
        providers = {_provider(name, s) for name, s in found.items()} - {None}
        return (
            lookup,
            "found",
            list(found),
            [r.key_type for r in firsts.values()],
            [r.bits for r in firsts.values()],
            [name for name, r in firsts.items() if r.revoked],
            sorted(providers),
            sorted(c for c in codes if c in ERRORS),
            sorted(c for c in codes if c not in ERRORS),
        )


def _provider(name: str, selector: Selector) -> str | None:
    """The CNAME target's provider first, else the one the selector implies."""
    if selector.target:
        for suffix, provider in TARGET_PROVIDERS.items():
            if selector.target == suffix or selector.target.endswith("." + suffix):
                return provider
    return DEFAULT_SELECTORS.get(name)


# --- keys ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@functools.cache
def rsa_p(bits: int, which: int, pkcs1: bool = False) -> str:
    """The `p=` value of lab RSA key `which` of `bits`, as SPKI or as a bare RSAPublicKey."""
    moduli = RSA_MODULI[bits]
    public = rsa.RSAPublicNumbers(65537, moduli[which % len(moduli)]).public_key()
    form = (
        serialization.PublicFormat.PKCS1
        if pkcs1
        else serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64(public.public_bytes(serialization.Encoding.DER, form))


@functools.cache
def ed25519_p(which: int) -> str:
    """A real ed25519 public key, derived from a fixed seed (RFC 8463 §4.2: 32 raw bytes)."""
    seed = hashlib.sha256(f"dmarc-survey lab ed25519 {which}".encode()).digest()
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return _b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def rsa_record(
    plan: Plan, bits: int, salt: int, tags: str = "", pkcs1: bool = False, which: int | None = None
) -> KeyRecord:
    """`v=DKIM1; k=rsa; <tags>p=<key>` with the codes its size earns (RFC 8301 §3.2); key
    `which` of that size, else one drawn from the domain's bits."""
    p = rsa_p(bits, mix(plan.bits, salt) if which is None else which, pkcs1)
    codes = ("rsa_under_1024",) if bits < 1024 else ("rsa_under_2048",) if bits < 2048 else ()
    return KeyRecord(f"v=DKIM1; k=rsa; {tags}p={p}", "rsa", bits, codes=codes)


def _selector(*records: KeyRecord, target: str | None = None) -> Selector:
    return Selector(records=records, target=target)


def _generic(plan: Plan) -> str:
    return pick(plan.bits, 80, ("default", "dkim"))


def _dashed(plan: Plan) -> str:
    return plan.name.replace(".", "-")


# --- the cases -------------------------------------------------------------------------------


def _m365(plan: Plan) -> DkimTruth:
    """selector1 and selector2 CNAMEd into the tenant's onmicrosoft.com domain; before the first
    rotation selector2's target often has no key yet (a CNAME to NXDOMAIN)."""
    tenant = f"{plan.name.split('.')[0]}.onmicrosoft.com"
    two = {
        name: Selector(
            records=(rsa_record(plan, 2048 if name == "selector1" else 1024, 81 + i),),
            target=f"{name}-{_dashed(plan)}._domainkey.{tenant}",
            target_exists=name == "selector1" or mix(plan.bits, 83) % 2 == 0,
        )
        for i, name in enumerate(("selector1", "selector2"))
    }
    return DkimTruth(two)


def _sendgrid(plan: Plan) -> DkimTruth:
    user = mix(plan.bits, 84) % 90_000_000 + 10_000_000
    return DkimTruth(
        {
            name: _selector(
                rsa_record(plan, 2048, 85 + i),
                target=f"{name}.domainkey.u{user}.wl{user % 1000:03d}.sendgrid.net",
            )
            for i, name in enumerate(("s1", "s2"))
        }
    )


def mailchimp_record() -> KeyRecord:
    return KeyRecord(f"v=DKIM1; k=rsa; p={rsa_p(2048, 1)}", "rsa", 2048)


def shared_lines() -> list[str]:
    """Records the lab writes once, whoever points to them."""
    return [txt_line(MAILCHIMP_HOST, (mailchimp_record().text,))]


def _malformed(plan: Plan) -> DkimTruth:
    """One key record with an error, the kind drawn from the domain's bits."""
    good = rsa_p(2048, mix(plan.bits, 86))
    junk = _b64(b"this is no DER-encoded public key")
    kinds = (
        KeyRecord("v=DKIM1; k=rsa; p=MIIB!not-base64", codes=("p_not_base64",)),
        KeyRecord(f"v=DKIM1; k=rsa; p={junk}", codes=("key_unparsable",)),
        KeyRecord(f"k=rsa; v=DKIM1; p={good}", bits=2048, codes=("v_not_first",)),
        KeyRecord(f"v=DKIM1; h=sha1; k=rsa; p={good}", bits=2048, codes=("sha1_only",)),
        KeyRecord(f"v=DKIM1; k=dsa; p={good}", key_type="unknown", codes=("unknown_key_type",)),
        KeyRecord("v=DKIM1; k=rsa; t=s", codes=("p_missing",)),
    )
    return DkimTruth({_generic(plan): _selector(pick(plan.bits, 87, kinds))})


def _wildcard(plan: Plan, with_key: bool) -> DkimTruth:
    wild = rsa_record(plan, 2048, 88, which=0)  # the own key differs from the wildcard's
    own = {"default": _selector(rsa_record(plan, 2048, 89, which=1))} if with_key else {}
    return DkimTruth(own, wildcard=(wild,))


def _unlisted(plan: Plan) -> DkimTruth:
    """A key at a selector the default list does not hold (some are in `extended`)."""
    name = pick(plan.bits, 90, ("mail", "zendesk1", f"s{token(plan.bits, 91, 6)}", "20230601"))
    return DkimTruth({name: _selector(rsa_record(plan, 2048, 92))})


DkimBuilder = Callable[[Plan], DkimTruth]
#: DKIM case → (weight, builder).
DKIM_CASES: dict[str, tuple[float, DkimBuilder]] = {
    "absent": (50, lambda p: DkimTruth()),
    "unlisted": (6, _unlisted),
    "not_a_key": (
        2,
        lambda p: DkimTruth({_generic(p): Selector(other_texts=(verification_token(p.bits, 93),))}),
    ),
    "rsa2048": (
        10,
        lambda p: DkimTruth(
            {_generic(p): _selector(rsa_record(p, 2048, 94, pkcs1=mix(p.bits, 95) % 3 == 0))}
        ),
    ),
    "rsa1024_pkcs1": (
        3,
        lambda p: DkimTruth({_generic(p): _selector(rsa_record(p, 1024, 96, pkcs1=True))}),
    ),
    "rsa4096": (1.5, lambda p: DkimTruth({"dkim": _selector(rsa_record(p, 4096, 97))})),
    "rsa512": (0.7, lambda p: DkimTruth({"default": _selector(rsa_record(p, 512, 98))})),
    "ed25519_dual": (
        1.5,
        lambda p: DkimTruth(
            {
                "dkim": _selector(
                    KeyRecord(
                        f"v=DKIM1; k=ed25519; p={ed25519_p(mix(p.bits, 99) % 4)}", "ed25519", 256
                    )
                ),
                "default": _selector(rsa_record(p, 2048, 100)),
            }
        ),
    ),
    "google": (6, lambda p: DkimTruth({"google": _selector(rsa_record(p, 2048, 101))})),
    "m365": (9, _m365),
    "mailchimp": (
        2,
        lambda p: DkimTruth({"k1": _selector(mailchimp_record(), target=MAILCHIMP_HOST)}),
    ),
    "sendgrid": (2, _sendgrid),
    "amazonses": (
        1,
        lambda p: DkimTruth(
            {
                "default": _selector(
                    rsa_record(p, 2048, 102), target=f"{token(p.bits, 103, 20)}.dkim.amazonses.com"
                )
            }
        ),
    ),
    "revoked": (
        1,
        lambda p: DkimTruth(
            {_generic(p): _selector(KeyRecord("v=DKIM1; k=rsa; p=", revoked=True))}
        ),
    ),
    "testing": (1, lambda p: DkimTruth({"google": _selector(_testing(p))})),
    "malformed": (1.5, _malformed),
    "wildcard": (0.6, lambda p: _wildcard(p, with_key=False)),
    "wildcard_with_key": (0.6, lambda p: _wildcard(p, with_key=True)),
    "multiple": (
        0.6,
        lambda p: DkimTruth(
            {
                "default": _selector(
                    rsa_record(p, 2048, 104, which=0), rsa_record(p, 2048, 105, which=1)
                )
            }
        ),
    ),
    "legacy_policy": (
        0.6,
        lambda p: DkimTruth(
            {"default": _selector(rsa_record(p, 2048, 106))},
            at_domainkey=(f"o=~; r=postmaster@{p.name}",),
        ),
    ),
}


def _testing(plan: Plan) -> KeyRecord:
    record = rsa_record(plan, 2048, 107, tags="t=y; ")
    return KeyRecord(record.text, "rsa", 2048, codes=("testing",))
