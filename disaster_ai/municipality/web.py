"""/admin/municipality: the profile as `disaster-ai municipality show` prints it, and a form to
set it from the national table or change single fields (admin only, audited)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from disaster_ai import audit
from disaster_ai.auth import requires
from disaster_ai.municipality import profile, table
from disaster_ai.storage.engine import db

bp = Blueprint("municipality_web", __name__, template_folder="templates")


class ProfileForm(FlaskForm):
    query = StringField(_l("団体コード, JIS code or name"), validators=[Optional(), Length(max=40)])
    prefecture = StringField(_l("Prefecture"), validators=[Optional(), Length(max=16)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=64)])
    name_kana = StringField(_l("Reading (katakana)"), validators=[Optional(), Length(max=128)])
    name_en = StringField(_l("English name"), validators=[Optional(), Length(max=64)])
    jma_area_code = StringField(_l("JMA area code"), validators=[Optional(), Length(max=64)])


@bp.route("/admin/municipality", methods=["GET", "POST"])
@requires("admin.municipality")
def admin_page():
    form = ProfileForm()
    status = 200
    candidates = ()
    if form.validate_on_submit():
        session = db()
        fields = {
            name: (getattr(form, name).data or "").strip() or None
            for name in ("name", "name_kana", "name_en", "jma_area_code")
        }
        try:
            if (form.query.data or "").strip():
                profile.set_from_entry(
                    session, table.lookup(form.query.data, form.prefecture.data or None)
                )
            if any(fields.values()):
                profile.update(session, **fields)
            row = profile.current(session)
            if row is None:
                raise profile.ProfileMissing()
        except table.LookupProblem as exc:
            session.rollback()
            form.query.errors.append(exc.message)
            candidates = exc.candidates
            status = 422
        except profile.ProfileProblem as exc:
            session.rollback()
            getattr(form, exc.field).errors.append(exc.message)
            status = 422
        except profile.ProfileMissing as exc:
            session.rollback()
            form.query.errors.append(exc.message)
            status = 422
        else:
            data = profile.profile_dict(row)
            audit.record(
                "municipality.set",
                target=f"municipality:{data['jis_code']}",
                detail={k: data[k] for k in profile.PROFILE_KEYS},
                session=session,
            )
            session.commit()
            flash(_("The municipality profile was saved."), "success")
            return redirect(url_for("municipality_web.admin_page"))
    elif request.method == "POST":
        status = 400
    data = profile.profile_dict(profile.current(db()))
    return (
        render_template(
            "municipality/admin.html",
            form=form,
            profile=data,
            missing=profile.missing_message() if data is None else None,
            candidates=candidates,
        ),
        status,
    )
