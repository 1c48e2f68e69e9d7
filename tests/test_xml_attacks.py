"""XML attacks: entity expansion and external entities are never expanded or loaded.

Outcomes named per case: declared entities are dropped with a warning (or
replaced by their value when it is short plain text); a declaration that would
blow the document up by more than its own size is refused with a clear error.
No file is opened and no connection made: shown with an audit hook in a fresh
interpreter (every ``open`` and ``socket.connect`` is recorded) and with a
loopback server that counts connections.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from feedsvc.errors import ExtractError
from feedsvc.extract import extract
from feedsvc.extract._dtd import defuse
from feedsvc.service import Service
from feedsvc.types import Document, Extracted
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.memory import run_measured

SECRET = "HARBOURMASTER-PRIVATE-LEDGER-7731"


def laughs(depth: int = 10, width: int = 10) -> str:
    return '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * width}">' for i in range(1, depth)
    )


def rss(doctype: str, title: str, body: str = "Ferries resume at Port Wendel.") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>Courier</title>'
        f"<item><title>{title}</title><guid>https://courier.example/1</guid>"
        f"<link>https://courier.example/1</link><description>{body}</description></item>"
        "</channel></rss>"
    ).encode()


def feed(body: bytes, content_type: str = "application/rss+xml") -> Extracted:
    return extract(Document("https://courier.example/feed", body, content_type), "feed")


# --------------------------------------------------------------------------- expansion


def test_billion_laughs_is_not_expanded_and_its_entities_are_dropped() -> None:
    started = time.monotonic()
    extracted = feed(rss(f"<!DOCTYPE rss [{laughs()}]>", "Tide &lol9; tables"))
    assert time.monotonic() - started < 2.0  # expat would chew on it for seconds
    [entry] = extracted.entries
    assert entry.title == "Tide  tables"
    assert extracted.warnings[0].startswith("DTD ignored; entities dropped: lol1, lol2")


def test_billion_laughs_spread_over_lines_and_in_attributes_is_dropped_too() -> None:
    decls = laughs().replace("<!ENTITY", "\n  <!ENTITY")
    doc = rss(f"<!DOCTYPE rss [{decls}\n]>", "&lol9;", body="&lol5;&lol9;")
    doc = doc.replace(b"<channel>", b'<channel><image url="&lol9;"/>')
    [entry] = feed(doc).entries
    assert "lol" not in (entry.title or "") + (entry.summary or "")


def test_quadratic_blowup_with_a_large_entity_is_dropped() -> None:
    big = "A" * 100_000
    extracted = feed(rss(f'<!DOCTYPE rss [<!ENTITY a "{big}">]>', "&a;" * 20_000))
    assert extracted.warnings == ("DTD ignored; entities dropped: a",)
    assert extracted.entries[0].title is None


def test_quadratic_blowup_with_small_entities_is_refused_with_a_clear_error() -> None:
    value = "B" * 250
    with pytest.raises(ExtractError, match="would expand it by more than 1048576 bytes"):
        feed(rss(f'<!DOCTYPE rss [<!ENTITY b "{value}">]>', "&b;" * 10_000))


def test_plain_entities_are_replaced_once() -> None:
    doctype = '<!DOCTYPE rss [\n  <!ENTITY id "tag:example.com,">\n  <!ENTITY nbsp "&#160;">\n]>'
    doc = rss(doctype, "Ferry&nbsp;news").replace(
        b"<guid>https://courier.example/1</guid>", b"<guid>&id;2006-05-04:/1</guid>"
    )
    extracted = feed(doc)
    [entry] = extracted.entries
    assert entry.guid == "tag:example.com,2006-05-04:/1"
    assert entry.title == "Ferry\xa0news"
    assert extracted.warnings == ()


def test_entities_in_a_utf16_document_are_dropped_too() -> None:
    doc = rss(f"<!DOCTYPE rss [{laughs()}]>", "Tide &lol9; tables")
    text = doc.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
    extracted = feed(text.encode("utf-16"))
    assert extracted.entries[0].title == "Tide  tables"
    assert extracted.warnings[0].startswith("DTD ignored")


def test_a_dtd_that_does_not_end_while_declaring_entities_is_refused() -> None:
    doc = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x"><rss><channel/></rss>'
    with pytest.raises(ExtractError, match="unreadable DTD"):
        feed(doc)


def test_a_document_without_a_subset_is_passed_through_untouched() -> None:
    body = rss('<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd">', "a")
    document = Document("https://c.example/", body)
    assert defuse(document) == (document, ())


# --------------------------------------------------------------------------- no file, no network


XXE_CASES = {
    "entity": '<!DOCTYPE rss [<!ENTITY x SYSTEM "{target}">]>',
    "public-entity": '<!DOCTYPE rss [<!ENTITY x PUBLIC "-//X//EN" "{target}">]>',
    "parameter": '<!DOCTYPE rss [<!ENTITY % p SYSTEM "{target}"> %p;]>',
    "external-dtd": '<!DOCTYPE rss SYSTEM "{target}">',
    "xinclude": "",
}


def xxe_document(case: str, target: str) -> bytes:
    doc = rss(XXE_CASES[case].format(target=target), "Tide &x; tables", body="Ledger: &x;")
    if case == "xinclude":
        include = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{target}"/>'
        doc = doc.replace(b"<title>Tide &x; tables", f"<title>Tide {include}".encode())
    return doc


@pytest.mark.parametrize("case", sorted(XXE_CASES))
def test_external_entities_naming_urls_make_no_request(
    loopback_server: LoopbackServer, case: str
) -> None:
    loopback_server.route("/evil", body=SECRET.encode())
    extracted = feed(xxe_document(case, loopback_server.url("/evil")))
    assert SECRET not in repr(extracted)
    assert loopback_server.connections_accepted == 0


AUDITED = """
import sys
seen = []

def hook(event, args):
    if event == "open" and "ledger" in str(args[0]):
        seen.append(f"open {args[0]}")
    elif event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        seen.append(f"{event} {args}")

from feedsvc.extract import extract
from feedsvc.types import Document

sys.addaudithook(hook)
leaked = []
for path, kind in zip(sys.argv[1::2], sys.argv[2::2]):
    body = open(path, "rb").read()
    try:
        result = repr(extract(Document("https://courier.example/x", body), kind))
    except Exception as exc:  # an ExtractError is a fine outcome too
        result = repr(exc)
    if "HARBOURMASTER" in result:
        leaked.append(path)
report(seen=seen, leaked=leaked)
"""


def page_with(doctype: str) -> bytes:
    paragraphs = "".join(
        f"<p>Paragraph {n} of the harbour report: ferries &x; resume at Port Wendel.</p>"
        for n in range(12)
    )
    return (
        f"{doctype}<html><head><title>Harbour report</title></head><body><article>"
        f"<h1>Harbour report &x;</h1>{paragraphs}</article></body></html>"
    ).encode()


def test_external_entities_naming_local_files_open_nothing(tmp_path: Path) -> None:
    """Feeds (every XXE case) and article pages, read in an interpreter that audits opens."""
    secret = tmp_path / "ledger.txt"
    secret.write_text(SECRET)
    args: list[str] = []
    for case in sorted(XXE_CASES):
        doc = tmp_path / f"{case}.xml"
        doc.write_bytes(xxe_document(case, secret.as_uri()))
        args += [str(doc), "feed"]
    page = tmp_path / "page.html"
    page.write_bytes(page_with(f'<!DOCTYPE html [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'))
    args += [str(page), "page", str(page), "file"]
    result = run_measured(AUDITED, *args)
    assert (result["seen"], result["leaked"]) == ([], [])


@pytest.mark.slow
def test_attacks_are_cheap_in_memory_and_time(tmp_path: Path) -> None:
    cases = {
        "laughs.xml": rss(f"<!DOCTYPE rss [{laughs(12)}]>", "&lol11;" * 1000),
        "quadratic.xml": rss(f'<!DOCTYPE rss [<!ENTITY a "{"A" * 200_000}">]>', "&a;" * 100_000),
        "laughs.html": page_with(f"<!DOCTYPE html [{laughs(12)}]>").replace(b"&x;", b"&lol11;"),
    }
    for name, body in cases.items():
        path = tmp_path / name
        path.write_bytes(body)
        started = time.monotonic()
        result = run_measured(AUDITED, str(path), "file")
        assert result["leaked"] == []
        assert time.monotonic() - started < 30
        assert result["peak_rss_mb"] < 200, (name, result)


def test_a_run_never_publishes_what_an_entity_names(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    secret = tmp_path / "ledger.txt"
    secret.write_text(SECRET)
    loopback_server.route("/feed.xml", body=xxe_document("entity", secret.as_uri()))
    config = write_config(tmp_path, [feed_source("courier", loopback_server.url("/feed.xml"))])
    result = Service.from_path(config).run_once(force=True)
    assert [s.status for s in result.sources] == ["ok"]
    published = [p.read_text(errors="replace") for p in (tmp_path / "output").rglob("*.*")]
    assert published and not any(SECRET in text for text in published)
