"""PII redaction measured on real text: recall per kind on planted PII, every replacement on real pages with nothing
planted (for a human check), and datatrove's `PIIFormatter` side by side on the same texts (e-mail and IP).

    python bench/pii.py [--out bench-out/pii] [--per-kind 1200] [--datatrove /tmp/dt]

Texts come from `../shared/data` (never copied into the project):
- carriers for planting: English sentences of `langid/lingua-dev.tsv` and paragraphs of
  `reference/wikitext-2-valid.txt`; each planted instance is one PII value in one carrier, at a word boundary, in a
  context people write it in ("Contact: …", "(…)", "… or …", "at …,"), in one of the formats people use for that kind
  (the makers below). An instance counts as found when a span of that kind covers exactly the planted value
  (datatrove: a match of its replacer's regex that its validator keeps, i.e. what `format` replaces).
- real pages: the 990 pages of `extraction/trafilatura-eval/` and the HTML responses of `warc/*.warc.gz`, extracted by
  the `extract` stage as a pipeline would (cached in OUT/pages.jsonl). Every replacement is written to
  OUT/replacements.tsv (document, kind, the replaced text and 40 characters either side) and datatrove's to
  OUT/datatrove_replacements.tsv. Which are false positives is a human call: the script prints the counts per kind
  per 1,000 documents; the review of the list is in docs/SAFETY.md.
datatrove is imported from a folder outside the project's environment (`pip install --no-deps --target /tmp/dt
datatrove==0.10.1 humanize`; its other imports are in the project's environment): a peer here, not a dependency.
"""
from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import random
import string
import sys
import time
from collections import Counter
from pathlib import Path

import phonenumbers

from curate.filters.pii import IBAN_LENGTHS, KINDS, PiiFinder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PHONE_REGIONS = ("US", "GB", "DE", "FR", "AU", "IN", "BR")


# ---------------------------------------------------------------- values, in the formats people write


def _luhn_complete(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def email(rng: random.Random) -> tuple[str, str, str]:
    first = rng.choice(["john", "maria", "li", "ahmed", "olga", "j", "sam", "priya", "lukas", "emma", "kwame"])
    last = rng.choice(["smith", "garcia", "wang", "khan", "novak", "obi", "muller", "rossi", "tanaka", "dubois"])
    local = rng.choice([f"{first}.{last}", f"{first}{last}{rng.randint(1, 99)}", f"{first[0]}{last}",
                        f"{first}_{last}", f"{first}+news", f"{first.capitalize()}.{last.capitalize()}", "info",
                        "contact", f"{last}-{first}"])
    domain = rng.choice(["gmail.com", "yahoo.co.uk", "outlook.com", "mail.uni-heidelberg.de", "example-corp.com",
                         "web.de", "hotmail.fr", "company.io", "cs.stanford.edu", "post.gov.au", "orange.fr"])
    form = rng.choice(["plain", "plain", "plain", "mailto", "angle", "bracket_at", "paren_at"])
    if form == "mailto":
        return f"mailto:{local}@{domain}", f"{local}@{domain}", form
    if form == "angle":
        return f"<{local}@{domain}>", f"{local}@{domain}", form
    if form == "bracket_at":
        obfuscated = f"{local} [at] {domain.replace('.', ' [dot] ')}"
        return obfuscated, obfuscated, form
    if form == "paren_at":
        obfuscated = f"{local}(at){domain}"
        return obfuscated, obfuscated, form
    return f"{local}@{domain}", f"{local}@{domain}", form


def phone(rng: random.Random) -> tuple[str, str, str]:
    region = rng.choice(PHONE_REGIONS[:4] + ("US", "US"))
    kind = rng.choice([phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE])
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(region)
    while True:  # random digits of the example's length until the library calls the number valid
        national = str(example.national_number)
        digits = national[:2] + "".join(rng.choices(string.digits, k=len(national) - 2))
        number = phonenumbers.parse(f"+{example.country_code}{digits}")
        if phonenumbers.is_valid_number(number):
            break
    form = rng.choice(["national", "international", "e164"] + (["us_dots", "us_plain_dashes"] if region == "US" else []))
    if form == "national":
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    elif form == "international":
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    elif form == "e164":
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    else:
        n = str(number.national_number)
        text = f"{n[:3]}.{n[3:6]}.{n[6:]}" if form == "us_dots" else f"{n[:3]}-{n[3:6]}-{n[6:]}"
    return text, text, f"{region}_{form}"


def ip(rng: random.Random) -> tuple[str, str, str]:
    while True:
        if rng.random() < 0.6:
            address = ipaddress.IPv4Address(rng.getrandbits(32))
        else:
            address = ipaddress.IPv6Address((rng.choice([0x2001, 0x2400, 0x2600, 0x2a00, 0x2a02]) << 112)
                                            | (rng.getrandbits(32) << 80) | rng.getrandbits(rng.choice([16, 64])))
        if address.is_global:
            break
    text = str(address)
    form = f"ipv{address.version}"
    if address.version == 4 and rng.random() < 0.25:
        return f"{text}:{rng.choice([80, 443, 8080, 22])}", text, "ipv4_port"
    return text, text, form


CARD_PREFIXES = [("visa", "4", 16, (4, 4, 4, 4)), ("mastercard", "5", 16, (4, 4, 4, 4)),
                 ("mastercard2", "2221", 16, (4, 4, 4, 4)), ("amex", "37", 15, (4, 6, 5)),
                 ("discover", "6011", 16, (4, 4, 4, 4)), ("jcb", "35", 16, (4, 4, 4, 4)),
                 ("unionpay", "62", 16, (4, 4, 4, 4)), ("diners", "36", 14, (4, 6, 4))]


def card(rng: random.Random) -> tuple[str, str, str]:
    name, prefix, length, groups = rng.choice(CARD_PREFIXES)
    if name == "mastercard":
        prefix += str(rng.randint(1, 5))
    if name == "jcb":
        prefix += str(rng.randint(28, 89))
    digits = _luhn_complete(prefix + "".join(rng.choices(string.digits, k=length - len(prefix) - 1)))
    separator = rng.choice([" ", "-", ""])
    if not separator:
        return digits, digits, f"{name}_plain"
    parts, at = [], 0
    for g in groups:
        parts.append(digits[at:at + g])
        at += g
    text = separator.join(parts)
    return text, text, f"{name}_grouped"


def iban(rng: random.Random) -> tuple[str, str, str]:
    country = rng.choice(["DE", "FR", "GB", "NL", "ES", "IT", "BE", "CH", "AT", "PL"])
    length = IBAN_LENGTHS[country]
    bban = "".join(rng.choices(string.digits, k=length - 4))
    if country in ("GB", "NL"):
        bban = "".join(rng.choices(string.ascii_uppercase, k=4)) + bban[4:]
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        text = " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
        return text, text, "grouped"
    return compact, compact, "compact"


def ssn(rng: random.Random) -> tuple[str, str, str]:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    separator = rng.choice(["-", "-", "-", " "])
    text = f"{area:03d}{separator}{group:02d}{separator}{serial:04d}"
    return text, text, "dashes" if separator == "-" else "spaces"


MAKERS = {"email": email, "phone": phone, "ip": ip, "card": card, "iban": iban, "ssn": ssn}
CONTEXTS = ["Contact: {}.", "({})", "{} or the office", "at {},", "- {}", "{}", "number {}", "\n{}\n"]
CONTEXT_WORDS = {"email": ["E-mail", "Write to", "Mail"], "phone": ["Call", "Phone", "Tel.", "Mobile:"],
                 "ip": ["from", "Server", "IP", "client"], "card": ["card", "Card number", "paid with"],
                 "iban": ["IBAN", "Account", "transfer to"], "ssn": ["SSN", "Social Security No.", "SSN:"]}


def carriers() -> list[str]:
    texts = []
    for line in (DATA / "langid" / "lingua-dev.tsv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t", 2)
        if len(fields) == 3 and fields[0] == "sentences" and fields[1] == "en":
            text = fields[2]
            texts.append(text)
    for line in (DATA / "reference" / "wikitext-2-valid.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip().replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
        if len(line) > 200 and not line.startswith("="):
            texts.append(line[:1500])
    return texts


def planted(per_kind: int, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    hosts = carriers()
    cases = []
    for kind, make in MAKERS.items():
        for _ in range(per_kind):
            written, value, form = make(rng)
            host = rng.choice(hosts)
            # at a space between two non-digits: a value glued to a number of the carrier is ambiguous to anyone
            cut = rng.choice([i for i in range(1, len(host) - 1) if host[i] == " " and not host[i - 1].isdigit()
                              and not host[i + 1].isdigit()] or [len(host)])
            context = rng.choice(CONTEXTS)
            if context == "{}":
                context = rng.choice(CONTEXT_WORDS[kind]) + " {}"
            snippet = context.format(written)
            start = snippet.index(value)
            prefix = f"{host[:cut]} {snippet[:start]}"
            suffix = f"{snippet[start + len(value):]} {host[cut:].lstrip()}"
            cases.append({"kind": kind, "form": form, "prefix": prefix, "value": value, "suffix": suffix})
    return cases


# ---------------------------------------------------------------- real pages


def real_pages(out: Path) -> list[dict]:
    """[{id, text}] of the shared data's real pages through the extract stage (cached in OUT/pages.jsonl)."""
    cache = out / "pages.jsonl"
    if cache.exists():
        return [json.loads(line) for line in cache.read_text().splitlines()]
    import pyarrow as pa

    from curate.pipeline.config import InputConfig
    from curate.pipeline.inputs import resolve
    from curate.pipeline.inputs import read
    from curate.pipeline.ledger import ReaderLedger
    from curate.stages.extract import Extract, ExtractParams

    rows = {"id": [], "url": [], "html": [], "content_type": []}
    root = DATA / "extraction" / "trafilatura-eval"
    for line in (root / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        rows["id"].append(f"trafilatura-eval/{entry['html']}")
        rows["url"].append(entry["url"])
        rows["html"].append(gzip.decompress((root / entry["html"]).read_bytes()))
        rows["content_type"].append("text/html")
    cfg = InputConfig(paths=[str(DATA / "warc")], dataset="warc")
    for file in resolve(cfg):
        for batch in read(file, cfg, ReaderLedger(file.rel)):
            for row in batch.to_pylist():
                if row["reject_reason"] is None and row["html"]:
                    for key in rows:
                        rows[key].append(row[key])
    stage = Extract(ExtractParams())
    stage.setup()
    pages = []
    for at in range(0, len(rows["id"]), 64):
        batch = pa.RecordBatch.from_pydict({k: v[at:at + 64] for k, v in rows.items()})
        out_batch = stage.process(batch)
        for row in out_batch.select(["id", "url", "text", "reject_reason"]).to_pylist():
            if row["reject_reason"] is None and row["text"]:
                pages.append({"id": row["id"], "url": row["url"], "text": row["text"]})
    cache.write_text("".join(json.dumps(p) + "\n" for p in pages))
    return pages


# ---------------------------------------------------------------- peers


def load_datatrove(folder: str):
    sys.path.append(folder)
    from datatrove.pipeline.formatters import PIIFormatter

    formatter = PIIFormatter()
    replacements = {"email": set(formatter.emails_replacer.replacements),
                    "ip": set(formatter.ip_replacer.replacements)}
    return formatter, replacements


def context(text: str, start: int, end: int) -> str:
    return f"{text[max(0, start - 40):start]}[[{text[start:end]}]]{text[end:end + 40]}".replace("\t", " ").replace(
        "\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/pii"))
    parser.add_argument("--per-kind", type=int, default=1200)
    parser.add_argument("--datatrove", default="/tmp/dt", help="folder datatrove was pip-installed into (--target)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"planted_per_kind": args.per_kind}
    datatrove, dt_values = load_datatrove(args.datatrove)
    dt_replacers = {"email": datatrove.emails_replacer, "ip": datatrove.ip_replacer}

    # recall on planted PII
    cases = planted(args.per_kind)
    variants = {"curate (phone_regions US)": PiiFinder(),
                f"curate (phone_regions {','.join(PHONE_REGIONS)})": PiiFinder(phone_regions=PHONE_REGIONS)}
    recall: dict = {}
    misses: list[str] = []
    for name, finder in variants.items():
        per: dict[tuple[str, str], list[int]] = {}
        for case in cases:
            text = case["prefix"] + case["value"] + case["suffix"]
            span = (len(case["prefix"]), len(case["prefix"]) + len(case["value"]))
            ok = any((f.start, f.end, f.kind) == (*span, case["kind"]) for f in finder.find(text))
            if not ok and name.endswith("US)"):
                misses.append(f"{case['kind']}\t{case['form']}\t{case['value']}")
            for key in ((case["kind"], "all"), (case["kind"], case["form"])):
                per.setdefault(key, [0, 0])
                per[key][0] += ok
                per[key][1] += 1
        recall[name] = {f"{k}/{f}": round(ok / n, 4) for (k, f), (ok, n) in sorted(per.items())}
    per: dict[tuple[str, str], list[int]] = {}
    for case in cases:
        if case["kind"] not in dt_values:
            continue
        text = case["prefix"] + case["value"] + case["suffix"]
        span = (len(case["prefix"]), len(case["prefix"]) + len(case["value"]))
        replacer = dt_replacers[case["kind"]]  # what format() replaces: the replacer's matches its validator keeps
        ok = any(m.span() == span and (replacer.validator is None or replacer.validator(m.group()))
                 for m in replacer.regex.finditer(text))
        for key in ((case["kind"], "all"), (case["kind"], case["form"])):
            per.setdefault(key, [0, 0])
            per[key][0] += ok
            per[key][1] += 1
    recall["datatrove PIIFormatter"] = {f"{k}/{f}": round(ok / n, 4) for (k, f), (ok, n) in sorted(per.items())}
    summary["recall"] = recall
    (args.out / "planted_misses.tsv").write_text("kind\tform\tvalue\n" + "\n".join(misses) + "\n")

    # every replacement on real pages, nothing planted
    pages = real_pages(args.out)
    finder = PiiFinder()
    found: Counter[str] = Counter()
    lines = ["document\tkind\treplaced\tcontext"]
    started = time.process_time()
    for page in pages:
        for f in finder.find(page["text"]):
            found[f.kind] += 1
            lines.append(f"{page['id']}\t{f.kind}\t{page['text'][f.start:f.end]}\t"
                         f"{context(page['text'], f.start, f.end)}")
    ours_seconds = time.process_time() - started
    (args.out / "replacements.tsv").write_text("\n".join(lines) + "\n")
    email_ip = PiiFinder(kinds=("email", "ip"))
    started = time.process_time()
    for page in pages:
        email_ip.find(page["text"])
    ours_email_ip_seconds = time.process_time() - started
    dt_lines = ["document\treplaced_by\tcontext_after"]
    dt_found: Counter[str] = Counter()
    started = time.process_time()
    outputs = [datatrove.format(page["text"]) for page in pages]
    dt_seconds = time.process_time() - started
    for page, out in zip(pages, outputs):
        for kind, values in dt_values.items():
            for value in values:
                n = out.count(value) - page["text"].count(value)
                if n > 0:
                    dt_found[kind] += n
                    at = out.find(value)
                    dt_lines.append(f"{page['id']}\t{kind}\t{out[max(0, at - 40):at + len(value) + 40]}".replace(
                        "\n", " "))
    (args.out / "datatrove_replacements.tsv").write_text("\n".join(dt_lines) + "\n")
    chars = sum(len(p["text"]) for p in pages)
    summary["real_pages"] = {
        "documents": len(pages), "characters": chars,
        "replacements": {k: found.get(k, 0) for k in KINDS},
        "replacements_per_1000_documents": {k: round(1000 * found.get(k, 0) / len(pages), 2) for k in KINDS},
        "datatrove_replacements": dict(dt_found),
        "datatrove_replacements_per_1000_documents": {k: round(1000 * n / len(pages), 2) for k, n in dt_found.items()},
        "cpu_seconds": {"curate all kinds": round(ours_seconds, 3), "curate email+ip": round(ours_email_ip_seconds, 3),
                        "datatrove email+ip": round(dt_seconds, 3)},
        "speed_ratio_email_ip_curate_over_datatrove": round(dt_seconds / ours_email_ip_seconds, 2),
    }
    (args.out / "pii.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
