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
    # Prose on one line a paragraph (the mail client wraps it); requests and facts on lines of their own.
    body = "\n".join(
        [
            "Hello,",
            "",
            "The UNCOPS partner gateway has marked one of your webhook subscriptions as failing.",
            "",
            f"Subscription: {subscription_id}",
            f"URL: {url}",
            f"Failing since: {when}",
            f"Last error: {failure}",
            "",
            "A delivery to this URL was not acknowledged after all its retries. The gateway delivers nothing "
            "more to this subscription until it is resumed; its events are kept and wait.",
            "",
            "Once the endpoint answers with a 2xx again, resume the subscription:",
            f"    POST {path}/resume",
            "Then ask for what failed again. The deliveries, with their attempts:",
            f"    GET {path}/deliveries",
            "One delivery again:",
            f"    POST {path}/deliveries/{{delivery_id}}/redeliver",
            'Everything since a time again (body {"since": "<time>"}):',
            f"    POST {path}/redeliver",
            "",
            "This message was sent automatically to the contact an administrator set for your organisation.",
        ]
    )
    return Email(subject=f"[UNCOPS] Webhook subscription {subscription_id} is failing", body=body + "\n")


def retry_after(attempts: int) -> timedelta:
    """How long an email the SMTP server did not take waits before the next try: 30 s, doubling, at most an
    hour."""
    return timedelta(seconds=min(30 * 2 ** min(attempts, 10), 3600))
