"""Per-layer export rights: the ``EXPORT_ROLES`` setting.

``EXPORT_ROLES`` maps a layer id to the lowest role (``viewer`` < ``field`` < ``editor``
< ``admin``) allowed to take that layer away as a file; a layer not named is open to
everyone, and the default (empty) leaves every export open. It governs every file
download: ``/export``, ``/collections/{id}/items?f=gpkg|shp|kml|csv|xlsx`` and
``/query/*?download=1``. Reading features on the map or as GeoJSON pages is a
different right (``READ_REQUIRES_LOGIN``), as in Lizmap, where viewing a layer and
exporting it are separate permissions.

A refused export is 401 (nobody signed in) or 403 (the role is too low), as JSON, and
is checked before anything is selected or written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app

from geo.errors import HehuError
from geo.users import ROLES
from server.auth import Forbidden, Unauthorized, current_user, role_params

SETTING = "EXPORT_ROLES"


class SettingError(HehuError, ValueError):
    """A deployment setting that cannot be used (``hehu serve`` says so in one line)."""

    status = 500
    code = "bad-setting"


def check_setting(value: Any, layer_ids: Iterable[str]) -> dict[str, str]:
    """The setting as ``layer id -> role``, or SettingError naming the bad entry.

    Checked when the app is built, so that a typo in a deployment's configuration stops
    the server instead of leaving a layer open.
    """
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise SettingError(key="settings.export_roles_not_mapping", params={"setting": SETTING, "value": repr(value)})
    known = set(layer_ids)
    out: dict[str, str] = {}
    for layer_id, role in value.items():
        if layer_id not in known:
            raise SettingError(key="settings.export_roles_unknown_layer", params={
                "setting": SETTING, "layer": repr(layer_id), "layers": ", ".join(sorted(known))})
        if role not in ROLES:
            raise SettingError(key="settings.export_roles_unknown_role", params={
                "setting": SETTING, "layer": layer_id, "role": repr(role), "roles": ", ".join(ROLES)})
        out[str(layer_id)] = str(role)
    return out


def required_role(layer_ids: Iterable[str]) -> tuple[str | None, list[str]]:
    """The highest role the setting asks for among ``layer_ids``, and the layers asking it."""
    roles: Mapping[str, str] = current_app.config.get(SETTING) or {}
    needed = {lid: roles[lid] for lid in dict.fromkeys(layer_ids) if lid in roles}
    if not needed:
        return None, []
    top = max(needed.values(), key=ROLES.index)
    return top, [lid for lid, role in needed.items() if role == top]


def check_export(layer_ids: Iterable[str]) -> None:
    """Refuse (401/403) an export of ``layer_ids`` the person asking may not take away."""
    role, layers = required_role(layer_ids)
    if role is None:
        return
    names = ", ".join(layers)
    user = current_user()
    if user is None:
        raise Unauthorized(
            key="auth.export_sign_in", params={"names": names, **role_params("needed", role)}, layers=layers, role=role
        )
    if not user.can(role):
        raise Forbidden(
            key="auth.export_forbidden",
            params={"user": user.name, "names": names, **role_params("role", user.role), **role_params("needed", role)},
            layers=layers,
            role=role,
        )
