"""Django views and middleware that print and log what clients send."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.generic import TemplateView

logger = logging.getLogger(__name__)


def search(request: HttpRequest, slug: str) -> JsonResponse:
    print(request.GET)  # expect: ZL101
    logger.info("slug %s", slug)  # expect: ZL102
    term = request.GET.get("q", "")
    words = term.split()
    logger.debug("words: %r", words)  # expect: ZL102
    return JsonResponse({"count": len(words)})


class ReportView(TemplateView):
    template_name = "report.html"

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        logger.info("report for %s", self.request.path)  # expect: ZL102
        print("rendering")  # expect: ZL101
        return context


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        logger.info("%s %s", request.method, request.get_full_path())  # expect: ZL106
        return self.get_response(request)


def timing_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        logger.info("%s -> %d", request.path, response.status_code)  # expect: ZL106
        return response

    return middleware
