"""Temporal client and worker bootstrap: the pydantic data converter and trace propagation everywhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from services.common.settings import Settings


def task_queue(service: str) -> str:
    return f"uncops-{service}"


async def connect(settings: Settings) -> Client:
    # The tracing interceptor carries the request's trace (our correlation id) into workflows and activities.
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=settings.temporal_tls,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()],
    )


def build_worker(
    client: Client, queue: str, workflows: Sequence[type], activities: Sequence[Callable[..., Any]]
) -> Worker:
    return Worker(client, task_queue=queue, workflows=list(workflows), activities=list(activities))
