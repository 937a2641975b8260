"""The printable programme as a paginated PDF, drawn by WeasyPrint (pinned in requirements.txt; Pango from
Debian) from the console's own HTML and CSS. Nothing is fetched while drawing: the page is the console's
template, its stylesheet is passed in, and every URL it might name is refused."""

from __future__ import annotations

from typing import Any, NoReturn

from weasyprint import CSS, HTML  # type: ignore[import-untyped]


class NothingFetched(Exception):
    pass


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    # A session's title or description is the planners' text: it must not make the server fetch anything.
    raise NothingFetched(url)


def footer_css(page_words: str) -> str:
    """The page-number footer of ``@page``: ``page_words`` is the language's "Page %(page)s of %(pages)s"."""
    quoted = page_words.replace("\\", "\\\\").replace('"', '\\"')
    content = (
        '"' + quoted.replace("%(page)s", '" counter(page) "').replace("%(pages)s", '" counter(pages) "') + '"'
    )
    return f"@page {{ @bottom-center {{ content: {content}; }} }}"


def pdf(html: str, stylesheets: list[str]) -> bytes:
    """The PDF of ``html`` with ``stylesheets`` (CSS text), A4 unless the CSS says otherwise."""
    document = HTML(string=html, url_fetcher=_no_fetching, base_url=None)
    drawn: bytes = document.write_pdf(
        stylesheets=[CSS(string=css, url_fetcher=_no_fetching) for css in stylesheets]
    )
    return drawn
