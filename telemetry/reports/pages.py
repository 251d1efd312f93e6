"""The reports' HTML pages: one Jinja2 environment over ``templates/``, autoescaped.

Every report page extends ``base.html`` (one layout, one stylesheet). Strings
from telemetry, rosters or operators are escaped by Jinja2's autoescape, never
by hand; numbers go through :mod:`telemetry.core.units` as filters, so a page
writes a dose exactly as the radiation panel does. The templates ship inside
the package (package data), so an installed console finds them. Rendering is
a pure function of its arguments; any thread may call :func:`render_page`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import jinja2

from telemetry.core import units

if TYPE_CHECKING:
    from collections.abc import Mapping


@functools.cache
def environment() -> jinja2.Environment:
    """Return the shared environment (built once; environments are thread-safe)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("telemetry.reports", "templates"),
        # Every template is HTML: escape everything, whatever its file name.
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        dose=units.format_dose,
        sig=units.format_sig,
        pct=units.format_percent,
        days=units.format_days,
        duration=units.format_duration,
        hms=units.format_hms,
        pfu=units.format_pfu,
        utc=lambda t, missing="—": units.utc_text(t, missing),
    )
    return env


def render_page(template: str, context: Mapping[str, object]) -> str:
    """Render ``templates/<template>`` with ``context`` (autoescaped HTML)."""
    return environment().get_template(template).render(context)
