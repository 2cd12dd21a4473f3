#!/usr/bin/python3
"""fake-apiserver.py with one addition for test-agent.sh: lists withheld on
demand, so a test can start the daemon before the API server answers and
prove /readyz waits for every watch the config needs.

Same command line, endpoints and control operations as fake-apiserver.py
(loaded from the same directory, not copied), plus:

  POST /_ctl {"op": "hold", "resources": [R...], "on": true|false}
      While on, a list (GET without watch) of resource R waits before its
      answer (headers included) until the hold is lifted, at most 60 s; then
      it is served as usual from the store of that moment. Watches are not
      affected. -> {"ok": true, "rv": RV, "held": {R: N}}
  POST /_ctl {"op": "held"}
      -> {"ok": true, "rv": RV, "held": {R: N}}: list requests waiting now,
      per resource (proves the client asked and is being kept waiting).

"reset" also lifts every hold.
"""

import importlib.util
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("fake_apiserver", os.path.join(HERE, "fake-apiserver.py"))
fa = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fa)

HOLD_MAX_SECONDS = 60
HOLD = {}   # resource -> True while its lists are withheld
HELD = {}   # resource -> list requests waiting now

_orig_control = fa.Handler.control
_orig_serve_list = fa.Handler.serve_list


def _held_snapshot():
    return {r: HELD.get(r, 0) for r in fa.RESOURCES}


def control(self, cmd):
    op = cmd["op"]
    if op == "hold":
        res = cmd["resources"]
        if not isinstance(res, list) or any(r not in fa.RESOURCES for r in res):
            raise ValueError("resources: want a list of %s" % sorted(fa.RESOURCES))
        with fa.COND:
            for r in res:
                HOLD[r] = bool(cmd["on"])
            fa.COND.notify_all()
            return {"ok": True, "rv": fa.STATE["rv"], "held": _held_snapshot()}
    if op == "held":
        with fa.COND:
            return {"ok": True, "rv": fa.STATE["rv"], "held": _held_snapshot()}
    out = _orig_control(self, cmd)
    if op == "reset":
        with fa.COND:
            HOLD.clear()
            fa.COND.notify_all()
    return out


def serve_list(self, resource, namespace, query):
    deadline = time.monotonic() + HOLD_MAX_SECONDS
    with fa.COND:
        if HOLD.get(resource):
            HELD[resource] = HELD.get(resource, 0) + 1
            try:
                while HOLD.get(resource) and time.monotonic() < deadline:
                    fa.COND.wait(0.05)
            finally:
                HELD[resource] -= 1
    return _orig_serve_list(self, resource, namespace, query)


fa.Handler.control = control
fa.Handler.serve_list = serve_list

if __name__ == "__main__":
    fa.main()
