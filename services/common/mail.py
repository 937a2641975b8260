"""Email over SMTP, for every service that sends some (issue 18: the console's notifications, the partner
gateway's notices to a partner's contact): the message's common headers, the connection as the settings
say (STARTTLS, authentication, timeout), a few quick retries, and which failures are worth a later try.

Each sender keeps its own outbox and decides what to do with a failure; what is said, and to whom, stays in
the service (no domain code here).
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.common.settings import Settings

# Failures another try may cure: the server away or slow, or refusing for now. The sender keeps the email
# and tries again later (its outbox's backoff) rather than losing it.
TRANSIENT: tuple[type[BaseException], ...] = (OSError, aiosmtplib.SMTPException, TimeoutError)


def plain_message(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
    language: str = "en",
) -> EmailMessage:
    """A plain-text message from ``settings.mail_from``, marked as automatic (no out-of-office replies)."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = email.utils.format_datetime(date)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    message["Content-Language"] = language  # after set_content, which replaces the Content-* headers
    return message


async def send(settings: Settings, message: EmailMessage) -> None:
    """Hands the message to the SMTP server of the settings, trying up to three times in a few seconds;
    raises one of ``TRANSIENT`` when the server still cannot take it."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.5, max=4),
        retry=retry_if_exception_type(TRANSIENT),
        reraise=True,
    ):
        with attempt:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                start_tls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=password,
                timeout=settings.smtp_timeout_seconds,
            )
