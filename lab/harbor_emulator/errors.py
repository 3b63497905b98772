"""Harbor's error model: {"errors":[{"code":..., "message":...}]} with Harbor's codes."""

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION",
    429: "TOO_MANY_REQUEST",
    500: "UNKNOWN",
}


class HarborError(Exception):
    def __init__(self, status, message, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "UNKNOWN")

    def body(self):
        return {"errors": [{"code": self.code, "message": self.message}]}


def bad_request(message):
    return HarborError(400, message)


def unauthorized(message="unauthorized"):
    return HarborError(401, message)


def forbidden(message="forbidden"):
    return HarborError(403, message)


def not_found(message):
    return HarborError(404, message)


def conflict(message):
    return HarborError(409, message)


def precondition(message):
    return HarborError(412, message)
