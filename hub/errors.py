"""The hub's one exception tree.

Every error the hub raises on purpose derives from :class:`NordhubError` and carries its HTTP status, a problem
type URI (RFC 9457) and a detail that is safe to show to the caller. One handler in ``api.problems`` renders them;
no route catches them itself. Foreign exceptions are translated into these once, at the edge that meets them.

::

    NordhubError
    ├── ConfigError                      a settings or cities.toml problem (CLI exits non-zero)
    │   └── CitiesFileError              names the file, the city/source and the field
    ├── DatabaseError                    the database cannot be reached or is not migrated
    ├── NotFound                         404
    ├── BadRequest                       400
    ├── Unauthorized                     401: no key, or a bad, revoked or expired one, where one is needed
    ├── Forbidden                        403: a valid key without the right (never says whether the object exists)
    ├── Conflict                         409: e.g. a registration whose id cities.toml already declares
    ├── RequestTooLarge                  413 (the request body cap)
    ├── QueryTooLong                     414 (the query string cap)
    ├── TooManyRequests                  429 (the rate limit; carries Retry-After)
    ├── CrossOriginRefused               403 (a cross-origin write from an origin not allowed)
    ├── HarvestError                     a harvest could not complete
    │   ├── SourceUnreachable            DNS, connection refused or reset
    │   ├── SourceTimeout                connect or read timeout
    │   ├── SourceHTTPError              a non-success HTTP status
    │   ├── PayloadTooLarge              the body exceeded the cap
    │   ├── PayloadInvalid               the body could not be parsed
    │   └── ForbiddenTarget              the SSRF guard refused the address
    └── NgsiLdError                      errors with an ETSI NGSI-LD problem type
        ├── InvalidRequest               400
        ├── BadRequestData               400
        ├── AlreadyExists                409
        ├── OperationNotSupported        422
        ├── ResourceNotFound             404
        ├── TooComplexQuery              403
        ├── TooManyResults               403
        ├── LdContextNotAvailable        504
        ├── NonexistentTenant            404
        ├── NotAcceptable                406
        └── UnsupportedMediaType         415
"""

from __future__ import annotations

from typing import ClassVar

PROBLEM_BASE = "https://nordhub.eu/problems/"
ETSI_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class NordhubError(Exception):
    """Base of every error the hub raises on purpose."""

    status: ClassVar[int] = 500
    problem_type: ClassVar[str] = PROBLEM_BASE + "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigError(NordhubError):
    """Settings or the cities registry are invalid."""

    problem_type = PROBLEM_BASE + "config-error"
    title = "Configuration error"


class CitiesFileError(ConfigError):
    """cities.toml is invalid; the detail names the file, the city/source and the field."""

    title = "Invalid cities file"


class DatabaseError(NordhubError):
    """The database cannot be reached, or its schema is not the one this code expects."""

    status = 503
    problem_type = PROBLEM_BASE + "database-unavailable"
    title = "Database unavailable"


class NotFound(NordhubError):
    status = 404
    problem_type = PROBLEM_BASE + "not-found"
    title = "Not found"


class BadRequest(NordhubError):
    status = 400
    problem_type = PROBLEM_BASE + "bad-request"
    title = "Bad request"


class Unauthorized(NordhubError):
    """No key, or an unknown, revoked or expired one, on a route that needs a key.

    ETSI GS CIM 009 defines no authentication error types, so ``/ngsi-ld/`` routes carry these hub types too
    (in the same ProblemDetails shape); the handler adds ``WWW-Authenticate: Bearer``.
    """

    status = 401
    problem_type = PROBLEM_BASE + "unauthorized"
    title = "Unauthorized"


class Forbidden(NordhubError):
    """A valid key that does not carry the right; the detail never says whether the object exists."""

    status = 403
    problem_type = PROBLEM_BASE + "forbidden"
    title = "Forbidden"


class Conflict(NordhubError):
    status = 409
    problem_type = PROBLEM_BASE + "conflict"
    title = "Conflict"


class RequestTooLarge(NordhubError):
    status = 413
    problem_type = PROBLEM_BASE + "request-too-large"
    title = "Request body too large"


class QueryTooLong(NordhubError):
    status = 414
    problem_type = PROBLEM_BASE + "query-too-long"
    title = "Query string too long"


class TooManyRequests(NordhubError):
    status = 429
    problem_type = PROBLEM_BASE + "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class CrossOriginRefused(NordhubError):
    status = 403
    problem_type = PROBLEM_BASE + "cross-origin-refused"
    title = "Cross-origin request refused"


class HarvestError(NordhubError):
    """A harvest could not fetch or read its source."""

    status = 502
    problem_type = PROBLEM_BASE + "harvest-error"
    title = "Harvest failed"


class SourceUnreachable(HarvestError):
    problem_type = PROBLEM_BASE + "source-unreachable"
    title = "Source unreachable"


class SourceTimeout(HarvestError):
    status = 504
    problem_type = PROBLEM_BASE + "source-timeout"
    title = "Source timed out"


class SourceHTTPError(HarvestError):
    problem_type = PROBLEM_BASE + "source-http-error"
    title = "Source answered with an error"

    def __init__(self, detail: str, *, http_status: int) -> None:
        super().__init__(detail)
        self.http_status = http_status


class PayloadTooLarge(HarvestError):
    problem_type = PROBLEM_BASE + "payload-too-large"
    title = "Payload too large"


class PayloadInvalid(HarvestError):
    problem_type = PROBLEM_BASE + "payload-invalid"
    title = "Payload invalid"


class ForbiddenTarget(HarvestError):
    status = 400
    problem_type = PROBLEM_BASE + "forbidden-target"
    title = "Target address refused"


class NgsiLdError(NordhubError):
    """Errors rendered with the ETSI NGSI-LD problem types (GS CIM 009, clause 5.5.2)."""

    problem_type = ETSI_BASE + "InternalError"
    title = "Internal error"


class InvalidRequest(NgsiLdError):
    status = 400
    problem_type = ETSI_BASE + "InvalidRequest"
    title = "Invalid request"


class BadRequestData(NgsiLdError):
    status = 400
    problem_type = ETSI_BASE + "BadRequestData"
    title = "Bad request data"


class AlreadyExists(NgsiLdError):
    status = 409
    problem_type = ETSI_BASE + "AlreadyExists"
    title = "Already exists"


class OperationNotSupported(NgsiLdError):
    status = 422
    problem_type = ETSI_BASE + "OperationNotSupported"
    title = "Operation not supported"


class ResourceNotFound(NgsiLdError):
    status = 404
    problem_type = ETSI_BASE + "ResourceNotFound"
    title = "Resource not found"


class TooComplexQuery(NgsiLdError):
    status = 403
    problem_type = ETSI_BASE + "TooComplexQuery"
    title = "Too complex query"


class TooManyResults(NgsiLdError):
    status = 403
    problem_type = ETSI_BASE + "TooManyResults"
    title = "Too many results"


class LdContextNotAvailable(NgsiLdError):
    status = 504
    problem_type = ETSI_BASE + "LdContextNotAvailable"
    title = "@context not available"


class NonexistentTenant(NgsiLdError):
    status = 404
    problem_type = ETSI_BASE + "NonexistentTenant"
    title = "Nonexistent tenant"


class NotAcceptable(NgsiLdError):
    status = 406
    problem_type = ETSI_BASE + "NotAcceptable"
    title = "Not acceptable"


class UnsupportedMediaType(NgsiLdError):
    status = 415
    problem_type = ETSI_BASE + "UnsupportedMediaType"
    title = "Unsupported media type"
