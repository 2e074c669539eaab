"""Run a flux-core style Python rc file for `flux modprobe run FILE.py`.

flux-core's rc files import `flux.modprobe` and define `setup(context)` and
functions decorated with `@task(...)`. This shim provides those names (our
own small implementation, not flux-core's package) and lets the `flux
modprobe` process that started it do the work: it plans and loads modules,
and asks this process to run each task when its turn comes. Messages are
JSON lines: requests to the driver on fd 3, answers and commands on fd 4.
"""

import json
import os
import subprocess
import sys
import types

_to_driver = os.fdopen(3, "w", encoding="utf-8")
_from_driver = os.fdopen(4, "r", encoding="utf-8")
_tasks = {}


def _send(msg):
    _to_driver.write(json.dumps(msg) + "\n")
    _to_driver.flush()


def _call(op, **kwargs):
    _send({"op": op, **kwargs})
    line = _from_driver.readline()
    if not line:
        sys.exit(1)
    resp = json.loads(line)
    if "error" in resp:
        raise OSError(resp.get("errno", 0), resp["error"])
    return resp.get("result")


def _names(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class _Future:
    def __init__(self, result):
        self._result = result

    def get(self):
        return self._result


class Context:
    """What setup() and tasks get, as flux-core's modprobe context."""

    def __init__(self):
        self._data = {}

    def setopt(self, module, option):
        _call("setopt", module=module, option=option)

    def load_modules(self, modules):
        _call("load_modules", names=_names(modules))

    def remove_modules(self, modules=None):
        _call("remove_modules", names=_names(modules), all=modules is None)

    def set_alternative(self, name, alternative):
        _call("set_alternative", name=name, module=alternative)

    def attr_get(self, name, default=None):
        value = _call("attr_get", name=name)
        return default if value is None else value

    def rpc(self, topic, payload=None, nodeid=None):
        return _Future(_call("rpc", topic=topic, payload=payload or {}, nodeid=nodeid))

    def bash(self, command):
        rc = subprocess.run(["bash", "-c", command]).returncode
        if rc != 0:
            raise RuntimeError(f"{command.strip()}: exited with {rc}")

    def set(self, key, value):
        self._data[key] = value

    def get(self, key, default=None):
        return self._data.get(key, default)

    @property
    def rank(self):
        return int(self.attr_get("rank"))


def task(name, ranks=None, before=None, after=None, requires=None, needs=None,
         needs_attrs=None, needs_config=None):
    def decorate(fn):
        _tasks[name] = {
            "fn": fn,
            "spec": {
                "name": name,
                "ranks": ranks,
                "before": _names(before),
                "after": _names(after),
                "requires": _names(requires),
                "needs": _names(needs),
                "needs_attrs": _names(needs_attrs),
                "needs_config": _names(needs_config),
            },
        }
        return fn

    return decorate


def _install_modules():
    flux = types.ModuleType("flux")
    modprobe = types.ModuleType("flux.modprobe")
    modprobe.task = task
    modprobe.Context = Context
    flux.modprobe = modprobe
    sys.modules["flux"] = flux
    sys.modules["flux.modprobe"] = modprobe


def main():
    path = sys.argv[1]
    _install_modules()
    namespace = {"__name__": "__modprobe_rc__", "__file__": path}
    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    exec(code, namespace)
    context = Context()
    _call("tasks", tasks=[t["spec"] for t in _tasks.values()])
    if callable(namespace.get("setup")):
        namespace["setup"](context)
    _call("setup_done")
    # Now the driver runs the plan and tells us when each task's turn comes.
    while True:
        line = _from_driver.readline()
        if not line:
            return
        cmd = json.loads(line)
        if cmd.get("op") == "exit":
            return
        if cmd.get("op") == "run":
            try:
                _tasks[cmd["name"]]["fn"](context)
                _send({"op": "done", "name": cmd["name"]})
            except Exception as e:  # reported to the driver, which logs it
                _send({"op": "failed", "name": cmd["name"], "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
