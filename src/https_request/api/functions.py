"""One request, one client: :func:`request`, :func:`get`, :func:`post`... (httpx's
top-level functions). Each makes a :class:`~.client.Client` with the options given,
sends the request, reads the response and closes the client; for more than one
request, a :class:`~.client.Client` keeps the connection alive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .client import DEFAULT_TIMEOUT, Client, SessionsTypes
from .config import VerifyTypes
from .models import HeaderTypes, RequestContent, Response, TimeoutTypes
from .urls import QueryParams

if TYPE_CHECKING:
    from ..esp_tls.config import EspTlsCfg

__all__ = ["delete", "get", "head", "options", "patch", "post", "put", "request"]


def request(
    method: str,
    url: str,
    *,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    content: RequestContent | None = None,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
    early_data: bool = True,
) -> Response:
    """Send one request and return its response, body read.

    The options are :class:`~.client.Client`'s, the request's are
    :meth:`Client.request <.client.Client.request>`'s; raises as they do.
    """
    with Client(
        verify=verify,
        profile=profile,
        tls=tls,
        timeout=timeout,
        follow_redirects=follow_redirects,
        sessions=sessions,
        early_data=early_data,
    ) as client:
        return client.request(method, url, params=params, headers=headers, content=content, data=data, json=json)


def get(
    url: str,
    *,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
    early_data: bool = True,
) -> Response:
    """A GET request (see :func:`request`)."""
    return request(
        "GET", url, params=params, headers=headers, verify=verify, profile=profile, tls=tls, timeout=timeout,
        follow_redirects=follow_redirects, sessions=sessions, early_data=early_data,
    )  # fmt: skip


def head(
    url: str,
    *,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
    early_data: bool = True,
) -> Response:
    """A HEAD request (see :func:`request`)."""
    return request(
        "HEAD", url, params=params, headers=headers, verify=verify, profile=profile, tls=tls, timeout=timeout,
        follow_redirects=follow_redirects, sessions=sessions, early_data=early_data,
    )  # fmt: skip


def options(
    url: str,
    *,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
    early_data: bool = True,
) -> Response:
    """An OPTIONS request (see :func:`request`)."""
    return request(
        "OPTIONS", url, params=params, headers=headers, verify=verify, profile=profile, tls=tls, timeout=timeout,
        follow_redirects=follow_redirects, sessions=sessions, early_data=early_data,
    )  # fmt: skip


def delete(
    url: str,
    *,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
    early_data: bool = True,
) -> Response:
    """A DELETE request (see :func:`request`)."""
    return request(
        "DELETE", url, params=params, headers=headers, verify=verify, profile=profile, tls=tls, timeout=timeout,
        follow_redirects=follow_redirects, sessions=sessions, early_data=early_data,
    )  # fmt: skip


def post(
    url: str,
    *,
    content: RequestContent | None = None,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
) -> Response:
    """A POST request (see :func:`request`)."""
    return request(
        "POST", url, content=content, data=data, json=json, params=params, headers=headers, verify=verify,
        profile=profile, tls=tls, timeout=timeout, follow_redirects=follow_redirects, sessions=sessions,
    )  # fmt: skip


def put(
    url: str,
    *,
    content: RequestContent | None = None,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
) -> Response:
    """A PUT request (see :func:`request`)."""
    return request(
        "PUT", url, content=content, data=data, json=json, params=params, headers=headers, verify=verify,
        profile=profile, tls=tls, timeout=timeout, follow_redirects=follow_redirects, sessions=sessions,
    )  # fmt: skip


def patch(
    url: str,
    *,
    content: RequestContent | None = None,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    params: QueryParams | None = None,
    headers: HeaderTypes | None = None,
    verify: VerifyTypes = True,
    profile: str | None = None,
    tls: EspTlsCfg | None = None,
    timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    sessions: SessionsTypes = None,
) -> Response:
    """A PATCH request (see :func:`request`)."""
    return request(
        "PATCH", url, content=content, data=data, json=json, params=params, headers=headers, verify=verify,
        profile=profile, tls=tls, timeout=timeout, follow_redirects=follow_redirects, sessions=sessions,
    )  # fmt: skip
