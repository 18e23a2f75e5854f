"""Try it: type names, see categories, confidences and decisions as you type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.ui.web import check_csrf, render, state_of
from core.batch import check_name
from core.errors import NoChampionError

router = APIRouter()
MAX_NAMES = 50


@router.get("/try")
def try_page(request: Request) -> HTMLResponse:
    return render(request, "try.html", {"names": "", "rows": []})


@router.post("/try")
def try_names(request: Request, form: Annotated[dict, Depends(check_csrf)]) -> HTMLResponse:
    text = str(form.get("names") or "")
    names = [line.strip() for line in text.splitlines() if line.strip()][:MAX_NAMES]
    state = state_of(request)
    context: dict = {"names": text, "rows": []}
    try:
        classifier = state.champion.classifier
    except NoChampionError:
        context["no_model"] = True
        classifier = None
    if classifier is not None:
        for name in names:
            problem = check_name(name, max_length=state.settings.max_name_length)
            context["rows"].append({"name": name, "error": problem} if problem else
                                   {"name": name, "prediction": classifier.predict(name)})
    fragment = request.headers.get("hx-request") == "true"
    return render(request, "_predictions.html" if fragment else "try.html", context)
