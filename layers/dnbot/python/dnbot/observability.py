"""Powertools logging, metrics and tracing, shared by every handler (configured by POWERTOOLS_* variables)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="dnbot")
metrics = Metrics(namespace="dnbot", service="dnbot")
tracer = Tracer(service="dnbot")
