"""The console's Units page: the tree, a unit's page, and its re-organisations (rename,
move, merge, deactivate).

The changes themselves are idp.directory.units (shared with `idp units ...` and the admin
API); who may make them is idp.admin.permissions. A unit administrator sees and changes only
their subtree: a unit, a new parent or a merge target outside it is a 403 and an
`admin.denied` event. Move, merge and deactivate ask for confirmation first: the first post
shows what will happen, the second (confirmed=yes) does it.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Length

from idp import audit
from idp.admin import permissions
from idp.admin.console import bp, console_page, denied, scope
from idp.directory import records, units
from idp.directory.fields import UNIT_CODE_MAX_LENGTH, UNIT_NAME_MAX_LENGTH
from idp.directory.models import Unit
from idp.directory.store import find_unit
from idp.directory.units import UnitChangeRefused
from idp.errors import render_error
from idp.extensions import commit
from idp.pages import PageForm

CONFIRMED = "yes"


class RenameForm(PageForm):
    name = StringField(
        _l("Tên mới"),
        validators=[
            InputRequired(message=_l("Hãy nhập tên đơn vị.")),
            Length(max=UNIT_NAME_MAX_LENGTH, message=_l("Tên đơn vị quá dài.")),
        ],
    )


class MoveForm(PageForm):
    # A unit code, or empty for the top of the tree.
    parent = StringField(
        _l("Đơn vị cấp trên mới"),
        validators=[Length(max=UNIT_CODE_MAX_LENGTH, message=_l("Mã đơn vị quá dài."))],
    )
    confirmed = HiddenField()


class MergeForm(PageForm):
    target = StringField(
        _l("Gộp vào đơn vị"),
        validators=[
            InputRequired(message=_l("Hãy chọn đơn vị nhận.")),
            Length(max=UNIT_CODE_MAX_LENGTH, message=_l("Mã đơn vị quá dài.")),
        ],
    )
    confirmed = HiddenField()


class DeactivateForm(PageForm):
    confirmed = HiddenField()


def refusal_message(exc: UnitChangeRefused) -> str:
    """The service's refusal in the administrator's language."""
    values = exc.values
    messages = {
        "cycle": _l("Không thể đặt một đơn vị vào chính nó hoặc vào đơn vị cấp dưới của nó."),
        "same_unit": _l("Không thể gộp một đơn vị vào chính nó."),
        "target_inactive": _l(
            "Đơn vị %(target)s đã ngừng hoạt động.", target=values.get("target", "")
        ),
        "has_people": _l(
            "Đơn vị còn %(count)d người dùng đang hoạt động: hãy chuyển họ sang đơn vị khác "
            "hoặc gộp đơn vị này vào đơn vị khác trước.",
            count=values.get("count", 0),
        ),
        "has_children": _l(
            "Đơn vị còn %(count)d đơn vị cấp dưới đang hoạt động: hãy chuyển, gộp hoặc cho "
            "ngừng hoạt động các đơn vị đó trước.",
            count=values.get("count", 0),
        ),
        "bad_name": _l("Tên đơn vị không hợp lệ."),
    }
    return str(messages.get(exc.reason, _l("Không thể thực hiện thay đổi này.")))


# -- reading --------------------------------------------------------------------------------


def visible_tree() -> list[dict[str, Any]]:
    """The units the administrator may see, as nested nodes: everything for a
    super-administrator, their subtrees for a unit administrator."""
    return units.tree(scope().covers_unit)


def _unit_or_none(code: str) -> Unit | None:
    return find_unit(code.strip()[:UNIT_CODE_MAX_LENGTH])


def _choices(unit: Unit) -> list[Unit]:
    """Where the unit may go (a new parent, a merge target): active units of the
    administrator's scope outside the unit's own subtree."""
    inside = units.subtree_ids(unit)
    admin_scope = scope()
    return [
        u
        for u in records.all_units()
        if u.active and u.id not in inside and admin_scope.covers_unit(u.id)
    ]


def _unit_page(unit: Unit, status: int = 200, error: str | None = None, **forms: Any) -> Any:
    children = sorted(unit.children, key=lambda u: u.code)
    return (
        render_template(
            "admin/unit.html",
            unit=unit,
            path=unit.path(),
            people=units.people_count(unit),
            active_people=units.people_count(unit, active_only=True),
            children=children,
            choices=_choices(unit),
            error=error,
            done=request.args.get("done", "") if status == 200 else "",
            rename_form=forms.get("rename_form") or RenameForm(formdata=None, name=unit.name),
            move_form=forms.get("move_form") or MoveForm(formdata=None),
            merge_form=forms.get("merge_form") or MergeForm(formdata=None),
            deactivate_form=forms.get("deactivate_form") or DeactivateForm(formdata=None),
        ),
        status,
    )


# The menu's endpoint is admin.units (templates/admin/base.html).
@bp.get("/units", endpoint="units")
@console_page
def units_tree():
    return render_template("admin/units.html", tree=visible_tree())


@bp.get("/units/<code>")
@console_page
def units_show(code: str):
    unit = _unit_or_none(code)
    if unit is None:
        return render_error(404)
    if not permissions.may_change_unit(scope(), unit):
        return denied(scope().actor)
    return _unit_page(unit)


# -- changing -------------------------------------------------------------------------------


def _done(unit: Unit, what: str) -> Any:
    commit()
    return redirect(url_for("admin.units_show", code=unit.code, done=what), code=303)


def _confirm(unit: Unit, action: str, form: PageForm, **details: Any) -> Any:
    return render_template(
        "admin/unit_confirm.html", unit=unit, action=action, form=form, **details
    )


@bp.post("/units/<code>/rename")
@console_page
def units_rename(code: str):
    unit = _unit_or_none(code)
    if unit is None:
        return render_error(404)
    if not permissions.may_change_unit(scope(), unit):
        return denied(scope().actor)
    form = RenameForm()
    if not form.validate_on_submit():
        return _unit_page(unit, 400, rename_form=form)
    try:
        units.rename_unit(unit, form.name.data, actor=scope().actor, origin=audit.request_origin())
    except UnitChangeRefused as exc:
        return _unit_page(unit, 400, error=refusal_message(exc), rename_form=form)
    return _done(unit, "rename")


@bp.post("/units/<code>/move")
@console_page
def units_move(code: str):
    unit = _unit_or_none(code)
    if unit is None:
        return render_error(404)
    if not permissions.may_change_unit(scope(), unit):
        return denied(scope().actor)
    form = MoveForm()
    if not form.validate_on_submit():
        return _unit_page(unit, 400, move_form=form)
    parent_code = (form.parent.data or "").strip()
    parent = _unit_or_none(parent_code) if parent_code else None
    if parent_code and parent is None:
        form.parent.errors = [str(_l("Không có đơn vị mã %(code)s.", code=parent_code))]
        return _unit_page(unit, 400, move_form=form)
    if not permissions.may_move_unit(scope(), unit, parent):
        return denied(scope().actor)
    if form.confirmed.data != CONFIRMED:
        return _confirm(unit, "move", form, parent=parent, people=_people_below(unit))
    try:
        units.move_unit(unit, parent, actor=scope().actor, origin=audit.request_origin())
    except UnitChangeRefused as exc:
        return _unit_page(unit, 409, error=refusal_message(exc), move_form=form)
    return _done(unit, "move")


def _people_below(unit: Unit) -> int:
    inside = units.subtree_ids(unit)
    counts = records.user_counts_by_unit()
    return sum(counts.get(unit_id, 0) for unit_id in inside)


@bp.post("/units/<code>/merge")
@console_page
def units_merge(code: str):
    source = _unit_or_none(code)
    if source is None:
        return render_error(404)
    if not permissions.may_change_unit(scope(), source):
        return denied(scope().actor)
    form = MergeForm()
    if not form.validate_on_submit():
        return _unit_page(source, 400, merge_form=form)
    target = _unit_or_none(form.target.data)
    if target is None:
        form.target.errors = [str(_l("Không có đơn vị mã %(code)s.", code=form.target.data))]
        return _unit_page(source, 400, merge_form=form)
    if not permissions.may_merge_units(scope(), source, target):
        return denied(scope().actor)
    if form.confirmed.data != CONFIRMED:
        return _confirm(
            source,
            "merge",
            form,
            target=target,
            people=units.people_count(source),
            children=len(source.children),
        )
    try:
        units.merge_units(source, target, actor=scope().actor, origin=audit.request_origin())
    except UnitChangeRefused as exc:
        return _unit_page(source, 409, error=refusal_message(exc), merge_form=form)
    return _done(source, "merge")


@bp.post("/units/<code>/deactivate")
@console_page
def units_deactivate(code: str):
    unit = _unit_or_none(code)
    if unit is None:
        return render_error(404)
    if not permissions.may_change_unit(scope(), unit):
        return denied(scope().actor)
    form = DeactivateForm()
    if not form.validate_on_submit():
        return _unit_page(unit, 400, deactivate_form=form)
    if form.confirmed.data != CONFIRMED:
        return _confirm(unit, "deactivate", form)
    try:
        units.deactivate_unit(unit, actor=scope().actor, origin=audit.request_origin())
    except UnitChangeRefused as exc:
        return _unit_page(unit, 409, error=refusal_message(exc), deactivate_form=form)
    return _done(unit, "deactivate")
