"""LAB ONLY, outside Harbor's API paths: request counters for tests and benchmarks.

GET /lab/requests reports requests by method and route since the last reset;
DELETE /lab/requests resets them. Counters are per emulator process.
"""

from ..web import route


@route("/lab/requests", prefix="", tx=False, auth=False)
def report(ctx):
    return ctx.emulator.requests.report()


@route("/lab/requests", methods=["DELETE"], prefix="", tx=False, auth=False)
def reset(ctx):
    ctx.emulator.requests.reset()
