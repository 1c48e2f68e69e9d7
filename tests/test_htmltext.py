"""Tests of feedsvc.htmltext: sanitising hostile HTML and HTML <-> text conversion."""

from __future__ import annotations

import time

import pytest

from feedsvc.htmltext import html_to_text, sanitise_html, text_to_html

BASE = "https://outlet.example/news/2031/story.html"
FORBIDDEN = ("<script", "javascript:", "onerror", "onload", "<style", "<iframe")

HOSTILE = [
    "<script>alert(1)</script>text",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    '<img src="x.png" onerror="alert(1)">',
    "<img src=x onerror=alert(1)//>",
    '<body onload="alert(1)"><p>hi</p></body>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href=" JaVaScRiPt:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    '<a href="jav\tascript:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
    "<style>body { display: none }</style>visible",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<iframe src="https://evil.example/"></iframe>after',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<form action="https://evil.example/"><input name="q"></form>',
    "<!-- <!-- nested --> <script>alert(1)</script> -->",
    "<!--[if IE]><script>alert(1)</script><![endif]-->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
    '<p>unclosed <b>bold <i>italic <a href="/x">link',
    '<div onmouseover="alert(1)">hover</div>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<base href='javascript:alert(1)//'>",
    "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
]


@pytest.mark.parametrize("html", HOSTILE)
def test_sanitised_output_has_nothing_unsafe(html: str) -> None:
    for base in (None, BASE):
        out = sanitise_html(html, base).lower()
        for bad in FORBIDDEN:
            assert bad not in out, f"{bad!r} survived in {out!r}"


def test_script_and_style_content_is_dropped() -> None:
    assert sanitise_html("<script>alert(1)</script><style>p{}</style>kept") == "kept"


def test_event_handlers_and_style_attributes_are_dropped() -> None:
    out = sanitise_html('<p onclick="x()" style="color:red" class="c" id="i">text</p>')
    assert out == "<p>text</p>"


def test_allowed_markup_survives() -> None:
    html = (
        "<h2>Head</h2><p><strong>s</strong> <em>e</em> <code>c</code></p>"
        "<ul><li>one</li></ul><blockquote>q</blockquote>"
        '<table><tr><td colspan="2">cell</td></tr></table>'
    )
    assert sanitise_html(html) == html.replace("<table><tr>", "<table><tbody><tr>").replace(
        "</tr></table>", "</tr></tbody></table>"
    )


def test_links_get_rel_and_relative_urls_are_resolved() -> None:
    out = sanitise_html('<a href="../about.html" title="About">a</a>', BASE)
    assert out == (
        '<a href="https://outlet.example/news/about.html" title="About" '
        'rel="noopener noreferrer nofollow">a</a>'
    )


def test_relative_img_src_is_resolved() -> None:
    out = sanitise_html('<img src="pics/a.jpg" alt="A" width="10" onload="x()">', BASE)
    assert out == '<img src="https://outlet.example/news/2031/pics/a.jpg" alt="A" width="10">'


def test_relative_urls_are_dropped_without_a_usable_base() -> None:
    for base in (None, "not a url", "file:///tmp/feed.xml"):
        assert sanitise_html('<a href="/x">x</a>', base) == (
            '<a rel="noopener noreferrer nofollow">x</a>'
        )


def test_only_http_https_mailto_urls() -> None:
    html = (
        '<a href="https://a.example/">1</a><a href="mailto:ed@a.example">2</a>'
        '<a href="ftp://a.example/">3</a><a href="data:text/html,x">4</a>'
    )
    out = sanitise_html(html, BASE)
    assert 'href="https://a.example/"' in out
    assert 'href="mailto:ed@a.example"' in out
    assert "ftp:" not in out
    assert "data:" not in out


def test_unclosed_tags_are_closed() -> None:
    assert sanitise_html("<p>unclosed <b>bold") == "<p>unclosed <b>bold</b></p>"


@pytest.mark.slow
def test_huge_and_deeply_nested_inputs_are_handled_quickly() -> None:
    huge = "<p>word <b>bold</b> &amp; <script>x()</script></p>" * 50_000
    deep = "<div>" * 20_000 + "deep" + "</div>" * 20_000
    start = time.monotonic()
    out = sanitise_html(huge, BASE)
    text = html_to_text(deep)
    assert time.monotonic() - start < 20
    assert "<script" not in out
    assert out.count("<b>") == 50_000
    assert text == "deep"


def test_html_to_text_paragraphs_and_entities() -> None:
    html = (
        "<h2>Head</h2>Intro <b>bold</b>\n  text<p>Caf&eacute; &amp; bar&nbsp;open</p>"
        "<ul><li>one</li><li>two</li></ul><script>skip()</script><style>p{}</style>"
    )
    assert html_to_text(html) == "Head\n\nIntro bold text\n\nCafé & bar open\n\none\n\ntwo"


def test_html_to_text_line_breaks() -> None:
    assert html_to_text("a<br>b<br/><br>c") == "a\nb\n\nc"


def test_html_to_text_tables_and_pre() -> None:
    html = "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table><pre>x\n  y</pre>"
    assert html_to_text(html) == "1 2\n\n3\n\nx\ny"


def test_html_to_text_drops_controls_and_handles_broken_html() -> None:
    assert html_to_text("<p>a\x00b\x07c<p>d <b>unclosed") == "abc\n\nd unclosed"
    assert html_to_text("") == ""
    assert html_to_text("x < y and <<>> z") == "x < y and <<>> z"


def test_text_to_html_escapes_and_makes_paragraphs() -> None:
    text = "Tom & <Jerry>\nsecond line\r\n\r\n\n  Next para  \n\n"
    assert text_to_html(text) == "<p>Tom &amp; &lt;Jerry&gt;<br>second line</p>\n<p>Next para</p>"
    assert text_to_html("") == ""


def test_text_round_trip() -> None:
    text = "First para\nwith a line break\n\nSecond & last"
    assert html_to_text(sanitise_html(text_to_html(text))) == text
