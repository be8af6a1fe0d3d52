"""Media types (`type/subtype; name=value`) read strictly, so a client's text never reaches a header unchecked."""

from __future__ import annotations

import re

# RFC 9110's token and quoted-string: a media type is `token "/" token *(OWS ";" OWS token "=" value)`.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})")
_PARAMETER = re.compile(rf"({_TOKEN})=({_TOKEN}|{_QUOTED})")
_OWS = " \t"


def essence(value: str) -> str:
    """The lower-cased `type/subtype` of a media type with optional parameters, or ValueError if it is not one."""
    head, *parameters = value.split(";")
    match = _TYPE.fullmatch(head.strip(_OWS))
    if match is None:
        raise ValueError(value)
    for parameter in parameters:
        parameter = parameter.strip(_OWS)
        if parameter and not _PARAMETER.fullmatch(parameter):  # an empty one is allowed ("image/png;")
            raise ValueError(value)
    return f"{match[1]}/{match[2]}".lower()


def is_media_type(value: object) -> bool:
    """Whether value is a well-formed media type (see essence)."""
    try:
        essence(value) if isinstance(value, str) else None
    except ValueError:
        return False
    return isinstance(value, str)
