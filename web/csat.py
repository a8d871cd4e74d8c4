"""HTTP side of the satisfaction surveys: the customer's public page GET/POST /csat/{token},
and the report's JSON and CSV (GET /api/reports/csat, /api/reports/csat.csv).

The public page needs no sign-in and carries no CSRF token: the unguessable token in the
path is the customer's only credential, so a page elsewhere cannot forge an answer without
it; the page sends no Referer (the token stays out of other sites' logs); a GET only shows
(a score in the link, ?score=4, is preselected, never recorded: mail scanners follow
links); the POST is bounded and rate-limited like the public web form, and answering again
replaces the answer."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from inbox import csat
from inbox.errors import ValidationError
from web import params
from web.forms import rate_limit, read_body
from web.keys import context
from web.render import render
from web.report_api import Table, ranged, twins

NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def setup(app: web.Application) -> None:
    app.router.add_get("/csat/{token}", show_survey)
    app.router.add_post("/csat/{token}", answer_survey)
    twins(app, "/api/reports/csat", report_table)


async def show_survey(request: web.Request) -> web.Response:
    survey = await context(request).surveys.survey(request.match_info["token"])
    chosen = csat.score_from_query(request.query.get("score")) or survey.score
    response = render("csat.html", request, {
        "survey": survey, "chosen": chosen, "comment": survey.comment or "",
        "names": csat.SCORE_NAMES, "max_comment": csat.MAX_COMMENT, "errors": {},
        "answered": False})
    response.headers.update(NO_REFERRER)
    return response


async def answer_survey(request: web.Request) -> web.Response:
    surveys, token = context(request).surveys, request.match_info["token"]
    survey = await surveys.survey(token)  # a bad or expired link: its 404 or 410 first
    values: dict[str, str] = {}
    try:
        rate_limit(request)
        values = dict(parse_qsl(await read_body(request, inflation=3),
                                keep_blank_values=True, max_num_fields=10))
        survey = await surveys.answer(token, values.get("score"), values.get("comment"))
    except ValidationError as exc:
        response = render("csat.html", request, {
            "survey": survey, "chosen": csat.score_from_query(values.get("score")),
            "comment": values.get("comment", "")[:csat.MAX_COMMENT * 2],
            "names": csat.SCORE_NAMES, "max_comment": csat.MAX_COMMENT,
            "errors": exc.errors, "answered": False}, status=400)
    except ValueError as exc:  # too many fields, broken encoding
        raise ValidationError({"body": f"could not read the form: {exc}"}) from exc
    else:
        response = render("csat.html", request, {
            "survey": survey, "chosen": survey.score, "comment": survey.comment or "",
            "names": csat.SCORE_NAMES, "max_comment": csat.MAX_COMMENT, "errors": {},
            "answered": True})
    response.headers.update(NO_REFERRER)
    return response


async def report_table(request: web.Request) -> Table:
    """The CSAT report over ?from=&to= (as /reports), its rows as plain values."""
    zone = params.team_zone(request)
    since, until = params.report_range(request, zone)
    rows = await context(request).surveys.report(since, until, zone)
    return ranged(request, "csat", since, until,
                  [{"group": r.group, "key": r.key, "sent": r.sent, "responses": r.responses,
                    "satisfied": r.satisfied, "average": r.average,
                    "satisfied_rate": r.satisfied_rate, "response_rate": r.response_rate}
                   for r in rows])
