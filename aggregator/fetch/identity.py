"""Item identity, canonical links, content hashes, near-duplicate keys and dates (all pure).

Item key, in order of preference, per document:

1. the entry's id/guid, when present and unique within the document;
2. else its canonical link (tracking parameters removed), when unique in the document;
3. else ``sha256:<content hash>``.

A feed that rewrites every item (new dates, shuffled order, new ``utm_`` tags) keeps its
keys, because none of those go into them; the content hash changes, which is how an
*updated* item is told from a new one.

``dedupe_key`` groups the same story arriving from several sources: the sorted set of
content words of the normalised title (case, accents, punctuation, word order,
stopwords and a trailing " - Publisher" / " | Site" suffix ignored) when the title has at
least three such words, else the canonical link, else the content hash. It is an exact
key, so grouping is an equality test in storage; fuzzier matching can be layered on later.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from itertools import filterfalse
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "vero_conv", "wickedid", "rb_clickid", "s_cid", "__s", "_ga", "_gl", "ref_src", "cmpid",
        "ncid", "sr_share", "spm", "soc_src", "soc_trk",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
FUTURE_SLACK = timedelta(days=1)
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
MAX_GUID_CHARS = 512

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "after",
        "over",
        "new",
        "says",
        "said",
    ]
)
#: a link canonical_link only lowercases: no whitespace to strip, no port, user or query; a fragment is dropped
_PLAIN_LINK = re.compile(r"(?P<origin>https?://[A-Za-z0-9.-]+)(?P<path>/[^?#\s]*)?(?:#\S*)?")
_NON_WORD = re.compile(r"[^\w]+")
_SEPARATORS = "-|:\u00b7\u2013\u2014"  # hyphen, bar, colon, middle dot, en and em dash
_SUFFIX = re.compile(rf"\s+[{_SEPARATORS}]\s+(?P<suffix>[^{_SEPARATORS}]{{1,60}})$")


def canonical_link(url: str | None) -> str | None:
    """The link with scheme/host lowercased, default port, fragment and tracking params dropped."""
    if not url:
        return None
    plain = _PLAIN_LINK.fullmatch(url)
    if plain:  # most links: what the general code below gives, 4x faster
        return plain["origin"].lower() + (plain["path"] or "/")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip() or None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def content_hash(*parts: str | None) -> str:
    """sha256 hex of the parts (separated so that ("ab","c") differs from ("a","bc"))."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def _norm_guid(guid: str | None) -> str | None:
    if not guid:
        return None
    guid = guid.strip()
    if not guid:
        return None
    if len(guid) > MAX_GUID_CHARS:
        return "sha256:" + content_hash(guid)
    return guid


def assign_keys(entries: Sequence[tuple[str | None, str | None, str]]) -> list[str]:
    """Keys for (guid, link, content_hash) triples of one document (see the module rule)."""
    return assign_keys_canonical([(guid, canonical_link(link), digest) for guid, link, digest in entries])


def assign_keys_canonical(entries: Sequence[tuple[str | None, str | None, str]]) -> list[str]:
    """``assign_keys`` for (guid, canonical link, content_hash): callers that have the canonical link reuse it."""
    guids = [_norm_guid(g) for g, _, _ in entries]
    links = [link for _, link, _ in entries]
    guid_counts = Counter(g for g in guids if g)
    link_counts = Counter(lk for lk in links if lk)
    keys: list[str] = []
    for guid, link, (_, _, digest) in zip(guids, links, entries, strict=True):
        if guid and guid_counts[guid] == 1:
            keys.append(guid)
        elif link and link_counts[link] == 1:
            keys.append(link)
        else:
            keys.append("sha256:" + digest)
    return keys


def _title_words(title: str) -> list[str]:
    match = _SUFFIX.search(title)
    if match and len(title[: match.start()].split()) >= 4:
        title = title[: match.start()]
    plain = title.casefold()
    if not plain.isascii():  # ASCII is its own NFKD form, with no combining marks to drop
        decomposed = unicodedata.normalize("NFKD", plain)
        plain = "".join(filterfalse(unicodedata.combining, decomposed))
    return [w for w in _NON_WORD.sub(" ", plain).split() if w not in _STOPWORDS]


def dedupe_key(title: str, link: str | None, digest: str) -> str:
    """Near-duplicate grouping key (see the module docstring for the rule)."""
    return dedupe_key_canonical(title, canonical_link(link), digest)


def dedupe_key_canonical(title: str, canonical: str | None, digest: str) -> str:
    """``dedupe_key`` given the canonical link already (it is computed once per entry, not three times)."""
    words = sorted(set(_title_words(title)))
    if len(words) >= 3:
        return "t:" + hashlib.sha1(" ".join(words).encode(), usedforsecurity=False).hexdigest()[:20]
    if canonical:
        return "l:" + hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()[:20]
    return "h:" + digest[:20]


def normalise_date(value: datetime | time.struct_time | str | None, now: datetime) -> datetime | None:
    """Aware UTC datetime, or None when absent, unparseable, before 1970 or more than a day ahead.

    Naive values are taken as UTC. Far-future dates become None rather than being
    clamped, so a misdated item does not sit at the top of every stream forever.
    """
    if value is None:
        return None
    when: datetime | None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, time.struct_time):
        try:
            when = datetime(*value[:6], tzinfo=UTC)
        except (ValueError, OverflowError):
            return None
    else:
        when = parse_date_text(value)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if when < EARLIEST or when > now + FUTURE_SLACK:
        return None
    return when


def parse_date_text(text: str) -> datetime | None:
    """Parse ISO 8601/RFC 3339, RFC 822 or any format feedparser knows; None if none fits."""
    text = text.strip()[:100]
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    from feedparser.datetimes import _parse_date  # feedparser's many-format parser (Greek, Korean...)

    parsed = _parse_date(text)
    if parsed is None:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
