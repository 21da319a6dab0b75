"""PII in text: e-mail addresses, phone numbers, IP addresses, payment cards, IBANs and US SSNs, found and replaced.

Each kind is a candidate pattern plus a validator, so that only what passes a real check is replaced:
- `email`: local@domain with a letters-only top-level domain (not an image name: `logo@2x.png`), also written
  `name [at] domain [dot] com` / `name (at) domain.com`.
- `phone`: the candidates of libphonenumber's own matcher (`phonenumbers.PhoneNumberMatcher`, leniency
  STRICT_GROUPING: the number is valid for its region's numbering plan and its digits are grouped as that region
  groups them, which turns away page ranges "91-94 131-133" and dates "13.10.2021" that VALID accepts) in each of
  `phone_regions` (numbers written with `+` and a country code are found in any); a bare run of digits with no `+`,
  space, dot, dash or bracket is not taken for a phone.
- `ip`: IPv4 (dotted quad, no leading zeros) and IPv6 (three groups or more, or a first group of four digits: not
  `a::b`) as Python's `ipaddress` parses them; public addresses by
  default (`is_global`), private/loopback/link-local/reserved ones with `ip_private`, the documentation ranges
  (RFC 5737 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; RFC 3849 2001:db8::/32) with `ip_documentation`. A dotted
  quad shaped like a version (its first two numbers below 32: Chrome 4.0.249.78, Android 4.4.2.1, section 5.4.3.2)
  is an address only with IP context: an IP word near it, a port or prefix length, `//` before it, or an address
  just before it (a list).
- `card`: 13-19 digits, ungrouped or in the groups cards are printed in (4-4-4-4[-1..3], Amex 4-6-5, Diners 4-6-4),
  passing the Luhn check and starting with a known issuer prefix of a length that issuer uses (ISO/IEC 7812 IINs as
  the networks publish them: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir).
- `iban`: a country code, two check digits and the country's registered length (ISO 13616 registry), mod-97 = 1.
- `ssn`: AAA-GG-SSSS (dashes or spaces) with a valid area (not 000, 666 or 900-999), group (not 00) and serial
  (not 0000), as the SSA assigns them, and not one of the numbers the SSA voided after publication (078-05-1120);
  bare 9-digit runs are not taken (zip+4 codes, ids).
Not PII, and kept: ISBNs and DOIs (their spans are protected), numbers preceded by an identifier word
(`_IDENTIFIER_BEFORE`: order, tracking, invoice, reference, item, SKU, serial, version, … or `#`), card,
SSN and phone digits right after `/`, `=` or `_` (ids in a URL: `/posts/2395361813834269`), dates,
prices and version strings (they fail the validators above). Where two kinds overlap, the first of `KINDS` wins.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import phonenumbers

KINDS = ("email", "iban", "card", "ssn", "ip", "phone")
PLACEHOLDERS = {"email": "<EMAIL>", "iban": "<IBAN>", "card": "<CARD>", "ssn": "<SSN>", "ip": "<IP>",
                "phone": "<PHONE>"}

_AT = r"(?:@|\s?[\[({]\s?at\s?[\])}]\s?)"
_DOT = r"(?:\.|\s?[\[({]\s?dot\s?[\])}]\s?)"
_EMAIL = re.compile(
    rf"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{{0,63}}[A-Za-z0-9_%+-])?{_AT}"
    rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?{_DOT})+(?P<tld>[A-Za-z]{{2,24}})(?![\w-])",
    re.IGNORECASE)
# Extensions that follow an @ in file names (logo@2x.png) and are not top-level domains.
_FILE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "json", "mp4", "pdf",
                    "tif", "tiff", "avif"}
_AT_MARK = re.compile(r"[\[({]\s?at\s?[\])}]", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
                   r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_CARD = re.compile(r"(?<![\d.,-])(?<!\d )\d(?:[ -]?\d){12,18}(?![ -]?\d|[.,]\d)")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,31}")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-]|[ ]\d)")
_ISBN = re.compile(r"\bISBN(?:-1[03])?:?\s*[\dX][\dX -]{8,16}[\dX]\b|\b97[89]-\d{1,5}-\d{1,7}-\d{1,7}-[\dX]\b",
                   re.IGNORECASE)
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"'<>]+")
# An identifier word just before a number: the number names a thing, not a person.
_IDENTIFIER_BEFORE = re.compile(
    r"(?:\b(?:order|tracking|track|invoice|ref|reference|confirmation|conf|item|sku|model|part|serial|version|ver|"
    r"build|release|isbn|doi|ticket|case|article|art|product|parcel|shipment|waybill|awb)\b\.?\s*"
    r"(?:no\.?|nr\.?|number|num\.?|id|code)?\s*[:#]?\s*|#\s*)$", re.IGNORECASE)
# Words that make a dotted quad an address rather than a version: `IP` ending a word (IP-Adresse, clientIP; not ZIP),
# and network words, within _IP_WINDOW characters before it (half that after).
_IP_WORD = re.compile(r"(?<![A-Z])IPs?(?:v4)?\b|(?i:\b(?:ips?|ipv4|address(?:es)?|addr|adressen?|hosts?|hostname|"
                      r"server|dns|nameserver|resolver|gateway|router|proxy|vpn|subnet|netmask|ping|traceroute|"
                      r"whois|inet|client|localhost|firewall)\b)")
_IP_WINDOW = 48
_PORT_OR_PREFIX = re.compile(r"(?::\d{1,5}|/\d{1,2})(?!\d)")
_PHONE_HINT = re.compile(r"\d(?:[\s().+/-]*\d){6}")
_SEPARATOR = re.compile(r"[\s().+/-]")

_DOCUMENTATION = [ipaddress.ip_network(n) for n in
                  ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]

# (first digits low, high, lengths): IIN ranges of the card networks.
_ISSUERS = [
    (4, 4, (13, 16, 19)),                                     # Visa
    (51, 55, (16,)), (2221, 2720, (16,)),                     # Mastercard
    (34, 34, (15,)), (37, 37, (15,)),                         # American Express
    (6011, 6011, (16, 17, 18, 19)), (644, 649, (16, 17, 18, 19)), (65, 65, (16, 17, 18, 19)),
    (622126, 622925, (16, 17, 18, 19)),                       # Discover
    (3528, 3589, (16, 17, 18, 19)),                           # JCB
    (300, 305, (14, 15, 16, 17, 18, 19)), (3095, 3095, (14, 15, 16, 17, 18, 19)),
    (36, 36, (14, 15, 16, 17, 18, 19)), (38, 39, (14, 15, 16, 17, 18, 19)),   # Diners Club
    (62, 62, (16, 17, 18, 19)),                               # UnionPay
    (5018, 5018, tuple(range(12, 20))), (5020, 5020, tuple(range(12, 20))), (5038, 5038, tuple(range(12, 20))),
    (5893, 5893, tuple(range(12, 20))), (6304, 6304, tuple(range(12, 20))), (6759, 6759, tuple(range(12, 20))),
    (6761, 6763, tuple(range(12, 20))),                       # Maestro
    (2200, 2204, (16, 17, 18, 19)),                           # Mir
]
_CARD_GROUPS = {(4, 6, 5), (4, 6, 4)}

# ISO 13616 registry: IBAN length by country.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


@dataclass(frozen=True)
class Found:
    """One PII span of a text: [start, end) and its kind."""

    start: int
    end: int
    kind: str


def _protected_mask(text: str) -> bytearray:
    """One byte a character of `text`, 1 inside ISBNs and DOIs: their digits are never PII."""
    mask = bytearray(len(text))
    if "10." in text:
        for m in _DOI.finditer(text):
            mask[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    if "978-" in text or "979-" in text or "isbn" in text.lower():
        for m in _ISBN.finditer(text):
            mask[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    return mask


def _blanked(text: str, mask: bytearray) -> str:
    """`text` with a space for each character its mask sets: the same offsets, nothing left to match there."""
    parts, at = [], 0
    while (start := mask.find(1, at)) >= 0:
        end = mask.find(0, start)
        end = len(text) if end < 0 else end
        parts += [text[at:start], " " * (end - start)]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _ipv6_shaped(candidate: str) -> bool:
    """Three groups or more, or a first group of four digits: `a::b` and `std::b` are scopes in code, not addresses."""
    groups = [g for g in candidate.split(":") if g]
    return len(groups) >= 3 or len(groups[0] if groups else "") == 4


def _version_shaped(quad: str) -> bool:
    """Could this dotted quad be a version or a section number (Chrome 4.0.249.78, Android 4.4.2.1, section 5.4.3.2)?
    Its first two numbers are below 32, as a major and a minor version are; 1.7 % of public addresses are."""
    major, minor = quad.split(".", 2)[:2]
    return int(major) < 32 and int(minor) < 32


def _ip_context(text: str, start: int, end: int) -> bool:
    """Does the text around an address say it is one: an IP word near it (IP, address, server, DNS, …), a port or a
    prefix length after it (`:8080`, `/24`), or `//` before it (a URL's host)?"""
    return ((start >= 2 and text.startswith("//", start - 2)) or _PORT_OR_PREFIX.match(text, end) is not None
            or _IP_WORD.search(text, max(0, start - _IP_WINDOW), start) is not None
            or _IP_WORD.search(text, end, end + _IP_WINDOW // 2) is not None)


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer_ok(digits: str) -> bool:
    for low, high, lengths in _ISSUERS:
        width = len(str(low))
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return True
    return False


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


# Numbers the SSA voided after they were printed in public (a wallet insert, advertisements).
_VOIDED_SSNS = {"078-05-1120", "219-09-9999", "457-55-5462"}


def ssn_ok(area: str, group: str, serial: str) -> bool:
    return (area != "000" and area != "666" and area < "900" and group != "00" and serial != "0000"
            and f"{area}-{group}-{serial}" not in _VOIDED_SSNS)


class PiiFinder:
    """Finds the PII spans of texts for the chosen kinds (see the module docstring for each kind's rule)."""

    def __init__(self, kinds: tuple[str, ...] = KINDS, phone_regions: tuple[str, ...] = ("US",),
                 ip_private: bool = False, ip_documentation: bool = False):
        self.kinds = [k for k in KINDS if k in kinds]  # the order of KINDS decides overlaps
        self.phone_regions = phone_regions
        self.ip_private, self.ip_documentation = ip_private, ip_documentation

    def find(self, text: str) -> list[Found]:
        """Non-overlapping PII spans of `text`, by start."""
        # One byte a character, set where a span was taken or is protected: a candidate is checked over its own
        # characters, never against every span taken before it (40,000 e-mails took 105 s that way)
        blocked = None
        taken: list[Found] = []
        for kind in self.kinds:
            scanned = text
            if kind == "phone" and _PHONE_HINT.search(text):
                # libphonenumber verifies each candidate in about half a millisecond: it reads the text with what is
                # taken or protected blanked out, so a page of IPs, cards or DOIs is not read again as phones
                blocked = blocked if blocked is not None else _protected_mask(text)
                scanned = _blanked(text, blocked)
            for start, end in getattr(self, f"_{kind}")(scanned):
                if blocked is None:  # most texts have no candidate at all: look for ISBNs and DOIs only now
                    blocked = _protected_mask(text)
                if blocked.find(1, start, end) < 0:
                    blocked[start:end] = b"\x01" * (end - start)
                    taken.append(Found(start, end, kind))
        return sorted(taken, key=lambda f: f.start)

    @staticmethod
    def _named_thing(text: str, start: int, in_url: bool = True) -> bool:
        """Is the number at `start` preceded by an identifier word (order no., tracking #, version), or (`in_url`)
        does it follow a URL's `/`, `=` or `_`?"""
        if in_url and start and text[start - 1] in "/=_":
            return True
        return _IDENTIFIER_BEFORE.search(text, max(0, start - 32), start) is not None

    def _email(self, text: str):
        if "@" not in text and not _AT_MARK.search(text):  # the full pattern is slow to scan a long text with
            return
        for m in _EMAIL.finditer(text):
            if m.group("tld").lower() not in _FILE_EXTENSIONS:
                yield m.start(), m.end()

    def _iban(self, text: str):
        for m in _IBAN.finditer(text):
            span = m.group()
            length = IBAN_LENGTHS.get(span[:2])
            if length is None:
                continue
            kept, end = 0, m.start()
            for i, c in enumerate(span):  # the country's length of characters, spaces skipped
                if c != " ":
                    kept += 1
                if kept == length:
                    end = m.start() + i + 1
                    break
            if kept == length and (end == len(text) or not text[end].isalnum()) and \
                    iban_ok(text[m.start():end].replace(" ", "")):
                yield m.start(), end

    def _card(self, text: str):
        for m in _CARD.finditer(text):
            raw = m.group()
            separators = set(re.findall(r"[ -]", raw))
            digits = re.sub(r"[ -]", "", raw)
            if len(separators) > 1:
                continue
            if separators:
                groups = tuple(len(g) for g in re.split(r"[ -]", raw))
                fours = all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4
                if not fours and groups not in _CARD_GROUPS:
                    continue
            if luhn(digits) and card_issuer_ok(digits) and not self._named_thing(text, m.start()):
                yield m.start(), m.end()

    def _ssn(self, text: str):
        for m in _SSN.finditer(text):
            if ssn_ok(m.group(1), m.group(3), m.group(4)) and not self._named_thing(text, m.start()):
                yield m.start(), m.end()

    def _ip(self, text: str):
        last = None  # where the last address taken ends: the next one of a list has it as its context
        for m in _IPV4.finditer(text):
            try:
                address = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if not self._ip_wanted(address) or self._named_thing(text, m.start(), in_url=False):
                continue
            listed = last is not None and m.start() - last <= _IP_WINDOW
            if _version_shaped(m.group()) and not listed and not _ip_context(text, m.start(), m.end()):
                continue
            last = m.end()
            yield m.start(), m.end()
        for m in _IPV6.finditer(text):
            if not _ipv6_shaped(m.group()):
                continue
            try:
                address = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if self._ip_wanted(address) and not self._named_thing(text, m.start(), in_url=False):
                yield m.start(), m.end()

    def _ip_wanted(self, address) -> bool:
        if any(address in network for network in _DOCUMENTATION):
            return self.ip_documentation
        return address.is_global or self.ip_private

    def _phone(self, text: str):
        if not _PHONE_HINT.search(text):
            return
        for region in self.phone_regions:
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.STRICT_GROUPING):
                raw, start, end = match.raw_string, match.start, match.end
                if _SEPARATOR.search(raw.strip()) is None:  # a bare digit run: an id more often than a phone
                    continue
                if raw.startswith("(") and ")" not in raw:  # "(201.751.5010)": the matcher takes the opening bracket
                    start += 1
                if not self._named_thing(text, start):
                    yield start, end


def redact(text: str, found: list[Found], placeholders: dict[str, str]) -> str:
    """`text` with each span replaced by its kind's placeholder."""
    parts, at = [], 0
    for f in found:
        parts += [text[at:f.start], placeholders[f.kind]]
        at = f.end
    parts.append(text[at:])
    return "".join(parts)
