"""What the partner's contact is told by email when a webhook subscription is marked failing (issue 18):
which subscription, since when, the last error, and how to resume; never the events themselves (a contact
address may be read by more people than the partner's system is). And when an email the SMTP server did
not take is tried again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAIL_DOMAIN = "partners.uncops"


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


def message_id(notification_id: str) -> str:
    """The same Message-ID for the same notice, always: an email sent again after a crash (between the SMTP
    server's acceptance and the gateway's record of it) is recognisably the same message."""
    return f"<{notification_id}@{MAIL_DOMAIN}>"


def failing_email(subscription_id: str, url: str, since: datetime, failure: str) -> Email:
    """The plain-text English email of a subscription marked failing."""
    when = since.strftime("%Y-%m-%d %H:%M:%S UTC")
    path = f"/webhooks/subscriptions/{subscription_id}"
    body = "\n".join(
        [
            "Hello,",
            "",
            f"The UNCOPS partner gateway has marked your webhook subscription {subscription_id} as failing",
            f"since {when}: a delivery to {url} was not acknowledged after all its retries.",
            f"Last error: {failure}",
            "",
            "The gateway delivers nothing more to this subscription until it is resumed; the events for it",
            "are kept and wait. Once the endpoint answers with a 2xx again, resume the subscription:",
            "",
            f"    POST {path}/resume",
            "",
            "then ask for what failed again: the failed deliveries are listed, with their attempts, at",
            "",
            f"    GET {path}/deliveries",
            "",
            f"    POST {path}/deliveries/{{delivery_id}}/redeliver   sends one again;",
            f'    POST {path}/redeliver   with {{"since": "<time>"}} sends everything since a time again.',
            "",
            "This message was sent automatically to the contact an administrator set for your organisation.",
        ]
    )
    return Email(subject=f"[UNCOPS] Webhook subscription {subscription_id} is failing", body=body + "\n")


def retry_after(attempts: int) -> timedelta:
    """How long an email the SMTP server did not take waits before the next try: 30 s, doubling, at most an
    hour."""
    return timedelta(seconds=min(30 * 2 ** min(attempts, 10), 3600))
