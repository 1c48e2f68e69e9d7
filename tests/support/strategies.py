"""Hypothesis strategies for hostile input: text, HTML fragments, URLs, dates, raw entries."""

from __future__ import annotations

from datetime import UTC

from hypothesis import strategies as st

from feedsvc.types import RawEntry

TAGS = [
    "p",
    "a",
    "img",
    "script",
    "style",
    "iframe",
    "svg",
    "form",
    "input",
    "div",
    "b",
    "object",
    "embed",
    "math",
    "table",
    "td",
]
TAGS += ["noscript", "template", "base", "video", "link", "meta", "textarea"]
ATTRIBUTES = [
    "href",
    "src",
    "onclick",
    "onerror",
    "style",
    "srcset",
    "action",
    "formaction",
    "xlink:href",
    "data",
]
ATTRIBUTES += ["class", "title", "background", "poster", "ONLOAD"]
SCHEMES = ["javascript:", "JaVaScRiPt:", "java\tscript:", " javascript:", "data:", "vbscript:"]
SCHEMES += ["http://", "https://", "mailto:", "//", "&#106;avascript:", "jav&#x09;ascript:", ""]

hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200
) | st.sampled_from(["\x00", "\u202e", "&amp;lt;script&amp;gt;", "]]>", "<!--", "&#0;", "\ufeff"])


@st.composite
def html_fragments(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 3))
        if kind == 0 or depth > 3:
            parts.append(draw(hostile_text))
            continue
        tag = draw(st.sampled_from(TAGS))
        attributes = ""
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from(ATTRIBUTES))
            value = draw(st.sampled_from(SCHEMES)) + draw(st.text(max_size=20))
            quote = draw(st.sampled_from(['"', "'", ""]))
            attributes += f" {name}={quote}{value}{quote}"
        inner = draw(html_fragments(depth + 1))
        closing = draw(st.sampled_from([f"</{tag}>", "", f"</{tag.upper()}>"]))
        parts.append(f"<{tag}{attributes}>{inner}{closing}")
    return "".join(parts)


urls = st.one_of(
    st.builds(
        lambda scheme, host, path, query, fragment: f"{scheme}{host}{path}{query}{fragment}",
        st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "", "//", "javascript:"]),
        st.sampled_from(
            [
                "example.org",
                "EXAMPLE.org:443",
                "xn--bcher-kva.example",
                "[::1]",
                "127.0.0.1:80",
                "a.example:99999",
                "",
                "user:pw@h.example",
                "[::1",
            ]
        ),
        st.text(alphabet="/abc%2F.-_~é ?#", max_size=20).map(lambda p: "/" + p),
        st.lists(
            st.sampled_from(["utm_source=x", "a=1", "fbclid=2", "UTM_Medium=y", "b=%zz", "c"]),
            max_size=4,
        ).map(lambda q: ("?" + "&".join(q)) if q else ""),
        st.sampled_from(["", "#top", "#", "#%00"]),
    ),
    hostile_text,
)

dates = st.one_of(
    st.none(), st.datetimes(timezones=st.sampled_from([UTC, None]))
)  # naive ones are taken as UTC


@st.composite
def raw_entries(draw: st.DrawFn) -> RawEntry:
    return RawEntry(
        guid=draw(st.none() | hostile_text),
        link=draw(st.none() | urls),
        title=draw(st.none() | hostile_text | html_fragments()),
        summary=draw(st.none() | html_fragments()),
        content=draw(st.none() | html_fragments()),
        content_type=draw(st.sampled_from(["text/html", "text/plain", "application/xhtml+xml"])),
        published=draw(dates),
        updated=draw(dates),
        authors=tuple(draw(st.lists(hostile_text, max_size=3))),
        categories=tuple(draw(st.lists(hostile_text, max_size=3))),
        language=draw(st.none() | hostile_text),
        base_url=draw(st.none() | urls),
    )
