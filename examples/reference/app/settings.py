"""The app's own settings (the database's are `core.database.settings`): size limits."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AppSettings"]

MIB = 1024 * 1024
KIB = 1024


class AppSettings(BaseSettings):
    """Read from `APP_*` environment variables (or `.env`), e.g. `APP_MAX_BODY_BYTES`."""

    model_config = SettingsConfigDict(
        env_prefix="APP_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # Far above any request this API takes (an event is at most ~64 KiB of JSON),
    # far below what would stall the event loop while it is parsed.
    max_body_bytes: int = Field(default=1 * MIB, ge=1)
    # Every live subscriber gets its own copy of an event on the wire: keep them small.
    max_event_payload_bytes: int = Field(default=64 * KIB, ge=1)

    @model_validator(mode="after")
    def _payload_fits_in_a_body(self) -> Self:
        if self.max_event_payload_bytes > self.max_body_bytes:
            raise ValueError("max_event_payload_bytes cannot exceed max_body_bytes")
        return self
