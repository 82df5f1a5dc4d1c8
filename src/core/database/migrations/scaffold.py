"""``python -m core.database init-migrations``: Alembic set up for the toolkit in a host app.

Writes ``alembic.ini`` (no URL: DATABASE_URL is the one setting; ruff post-write
hooks), ``<directory>/env.py`` (the toolkit's ``run_migrations`` on the host's
metadata), ``<directory>/script.py.mako`` (revision files that keep ``op`` and
``sa`` imported) and an empty ``<directory>/versions``. Existing files are never
overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

from core.database.errors import ConfigurationError

__all__ = ["init_migrations"]

_TEMPLATES = files("core.database.migrations") / "template"
_DEFAULT_METADATA = "core.database:Base.metadata"


@dataclass(frozen=True)
class _Metadata:
    module: str
    attribute: str

    @classmethod
    def parse(cls, spec: str) -> _Metadata:
        module, _, attribute = spec.partition(":")
        names = [*module.split("."), *attribute.split(".")]
        if not module or not attribute or not all(name.isidentifier() for name in names):
            raise ConfigurationError(
                f"--metadata takes module:attribute (e.g. app.db:Base.metadata), not {spec!r}"
            )
        return cls(module, attribute)


def init_migrations(
    directory: str | Path = "migrations",
    *,
    config: str | Path = "alembic.ini",
    models: tuple[str, ...] = (),
    metadata: str = _DEFAULT_METADATA,
) -> list[Path]:
    """Write the Alembic files for a host app; return the paths written.

    `models`: modules to import so their tables are on the metadata (``app.models``);
    `metadata`: ``module:attribute`` of the MetaData to migrate (default: the toolkit's Base).
    """
    config_path = Path(config)
    folder = Path(directory)
    target = _Metadata.parse(metadata)
    env = folder / "env.py"
    mako = folder / "script.py.mako"
    existing = [path for path in (config_path, env, mako) if path.exists()]
    if existing:
        raise ConfigurationError(
            "not overwriting " + ", ".join(str(path) for path in existing) + ": remove them first"
        )
    for module in models:
        if not all(name.isidentifier() for name in module.split(".")):
            raise ConfigurationError(f"--models takes a module name (app.models), not {module!r}")
    # script_location is relative to alembic.ini's folder (%(here)s).
    location = Path(_relative(folder.resolve(), config_path.resolve().parent)).as_posix()
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(_render("alembic.ini.template", directory=location))
    env.write_text(_render("env.py.template", **_env_values(models, target)))
    mako.write_text((_TEMPLATES / "script.py.mako").read_text(encoding="utf-8"))
    return [config_path, env, mako, folder / "versions"]


def _env_values(models: tuple[str, ...], target: _Metadata) -> dict[str, str]:
    head, _, rest = target.attribute.partition(".")
    lines = [f"import {module}  # noqa: F401 - registers its tables" for module in models]
    lines.append(f"from {target.module} import {head}")
    return {"models_import": "\n".join(lines), "metadata": f"{head}.{rest}" if rest else head}


def _render(name: str, **values: str) -> str:
    return Template((_TEMPLATES / name).read_text(encoding="utf-8")).substitute(values)


def _relative(path: Path, start: Path) -> str:
    try:
        return str(path.relative_to(start))
    except ValueError:
        return str(path)
