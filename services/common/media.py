"""Response classes that declare what an export really sends, so the OpenAPI document names its media type.

An endpoint that builds its own ``Response`` sends exactly that; its ``response_class`` only tells FastAPI
which media type to declare for the success response.
"""

from __future__ import annotations

from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

__all__ = ["CalendarResponse", "CsvResponse", "HTMLResponse", "PlainTextResponse"]


class CalendarResponse(Response):
    """An iCalendar file (RFC 5545)."""

    media_type = "text/calendar"


class CsvResponse(StreamingResponse):
    """A CSV file (RFC 4180), streamed."""

    media_type = "text/csv"
