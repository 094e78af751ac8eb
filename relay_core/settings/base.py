"""What every settings group shares: the group base, comma lists, and the flat environment.

Each variable keeps the name it has always had (`REDIS_URL`, `PORT`, `EXTEND_WEBHOOK_SECRETS`):
a field declares it as its `validation_alias`, and `FlatEnv` reads exactly those names from the
environment. `regroup` then places each flat name in the group that declares it, so the
environment and `Settings(REDIS_URL=...)` in a test build the same nested object.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource

# A comma-separated variable, read as a list (no JSON decoding).
CommaList = Annotated[list[str], NoDecode]


class ConfigError(Exception):
    """A setting a started feature needs is missing or invalid: the process stops with one line."""


class Group(BaseModel):
    """A group of settings of one concern; each field is read from its own variable."""

    model_config = ConfigDict(
        frozen=True, populate_by_name=True, extra="ignore", use_attribute_docstrings=True
    )


def split_commas(value: object, lower: bool = False) -> object:
    if isinstance(value, str):
        return [p.strip().lower() if lower else p.strip() for p in value.split(",") if p.strip()]
    return value


def _group_of(field: FieldInfo) -> type[BaseModel] | None:
    kind = field.annotation
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def walk(
    model: type[BaseModel], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, tuple[str, ...], FieldInfo]]:
    """(variable, attribute path, field) of every setting, groups walked in declaration order."""
    for name, field in model.model_fields.items():
        group = _group_of(field)
        if group is not None:
            yield from walk(group, (*path, name))
        elif isinstance(field.validation_alias, str):
            yield field.validation_alias, (*path, name), field


def env_names(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Every variable a settings class reads, and the attribute path it fills."""
    return {env: path for env, path, _ in walk(model)}


def regroup(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """Flat variables (`REDIS_URL`) moved into their groups ({"redis": {"REDIS_URL": ...}})."""
    out: dict[str, Any] = {}
    places = env_names(model)
    for key, value in data.items():
        place = places.get(key)
        if place is None:
            out[key] = value  # a group given whole, or a name no setting reads
            continue
        target = out
        for part in place[:-2]:
            target = target.setdefault(part, {})
        target.setdefault(place[-2], {})[key] = value
    return out


class FlatEnv(PydanticBaseSettingsSource):
    """The process environment, under the variables' own names (case-insensitive, as before)."""

    def __call__(self) -> dict[str, Any]:
        names = {env.upper(): env for env in env_names(self.settings_cls)}
        return {names[k.upper()]: v for k, v in os.environ.items() if k.upper() in names}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads every variable at once


def flat_sources(
    settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Keyword arguments first, then the environment; no .env file, no secrets directory."""
    return init_settings, FlatEnv(settings_cls)
