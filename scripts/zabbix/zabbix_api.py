#!/usr/bin/env python3
"""The Zabbix API side of scripts/zabbix.sh (Python standard library only).

  zabbix_api.py wait    URL                      wait until the frontend's API answers
  zabbix_api.py setup   URL TEMPLATE HOST...     import the template (configuration.import), create
                                                 each host in group "MultiFlexi CI" linked to it
  zabbix_api.py check   URL JOBS.json            check each job's values in the server's history

JOBS.json is a list of {"host": "<technical host name>", "job": <multiflexi-cli job:get --format json>}.
`check` prints one line per job and exits 1 when anything is missing or wrong.
"""

import json
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime

TEMPLATE = "MultiFlexi by Zabbix trapper"
GROUP = "MultiFlexi CI"
VALUE_FLOAT, VALUE_CHAR = 0, 1


class Api:
    def __init__(self, url):
        self.url = url.rstrip("/") + "/api_jsonrpc.php"
        self.auth = None
        self.next_id = 0

    def call(self, method, params):
        self.next_id += 1
        body = {"jsonrpc": "2.0", "method": method, "params": params, "id": self.next_id}
        if self.auth and method not in ("apiinfo.version", "user.login"):
            body["auth"] = self.auth
        req = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json-rpc"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer = json.load(resp)
        if "error" in answer:
            raise SystemExit(f"zabbix API {method} failed: {answer['error']}")
        return answer["result"]

    def login(self):
        self.auth = self.call("user.login", {"username": "Admin", "password": "zabbix"})


def wait(url, seconds=60):
    api = Api(url)
    deadline = time.monotonic() + seconds
    while True:
        try:
            version = api.call("apiinfo.version", {})
            print(f"Zabbix API {version}")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as e:
            if time.monotonic() > deadline:
                raise SystemExit(f"the Zabbix API at {url} did not answer within {seconds} s: {e}")
            time.sleep(0.5)


def setup(url, template_file, hosts):
    api = Api(url)
    api.login()
    with open(template_file, encoding="utf-8") as f:
        source = f.read()
    both = {"createMissing": True, "updateExisting": True}
    api.call(
        "configuration.import",
        {
            "format": "yaml",
            "source": source,
            "rules": {
                "groups": {"createMissing": True},
                "templates": both,
                "items": both,
                "discoveryRules": both,
                "triggers": both,
                "templateLinkage": {"createMissing": True},
            },
        },
    )
    templates = api.call("template.get", {"filter": {"host": [TEMPLATE]}, "output": ["templateid"]})
    if len(templates) != 1:
        raise SystemExit(f"the template {TEMPLATE!r} is not there after the import")
    template_id = templates[0]["templateid"]
    rules = api.call(
        "discoveryrule.get", {"templateids": [template_id], "output": ["key_"]}
    )
    prototypes = api.call(
        "itemprototype.get", {"templateids": [template_id], "output": ["key_"]}
    )
    triggers = api.call(
        "triggerprototype.get", {"templateids": [template_id], "output": ["description"]}
    )
    print(
        f"imported {TEMPLATE!r}: discovery rules {sorted(r['key_'] for r in rules)}, "
        f"item prototypes {sorted(p['key_'] for p in prototypes)}, "
        f"{len(triggers)} trigger prototypes"
    )
    groups = api.call("hostgroup.get", {"filter": {"name": [GROUP]}, "output": ["groupid"]})
    group_id = (
        groups[0]["groupid"]
        if groups
        else api.call("hostgroup.create", {"name": GROUP})["groupids"][0]
    )
    for host in hosts:
        api.call(
            "host.create",
            {
                "host": host,
                "groups": [{"groupid": group_id}],
                "templates": [{"templateid": template_id}],
            },
        )
        print(f"host {host!r} created and linked to {TEMPLATE!r}")


def epoch(ts):
    """An RFC 3339 timestamp (as multiflexi-cli prints them) as (seconds, nanoseconds)."""
    m = re.fullmatch(r"([^.]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", ts.strip())
    if m is None:
        raise SystemExit(f"not an RFC 3339 timestamp: {ts!r}")
    offset = "+00:00" if m.group(3) == "Z" else m.group(3)
    seconds = int(datetime.fromisoformat(m.group(1) + offset).timestamp())
    return (seconds, int(((m.group(2) or "") + "000000000")[:6]) * 1000)


def hostids(api, host):
    return [h["hostid"] for h in api.call("host.get", {"filter": {"host": [host]}, "output": ["hostid"]})]


def check(url, jobs_file):
    api = Api(url)
    api.login()
    with open(jobs_file, encoding="utf-8") as f:
        jobs = json.load(f)
    problems = []
    for entry in jobs:
        host, job = entry["host"], entry["job"]
        jid = job["id"]
        where = f"job {jid} on host {host!r}"
        keys = {
            "phase": f"multiflexi.job.phase[{jid}]",
            "exitcode": f"multiflexi.job.exitcode[{jid}]",
            "duration": f"multiflexi.job.duration[{jid}]",
        }
        items = api.call(
            "item.get",
            {
                "host": host,
                "filter": {"key_": list(keys.values())},
                "output": ["itemid", "key_", "value_type"],
            },
        )
        by_key = {i["key_"]: i for i in items}
        values = {}
        for name, key in keys.items():
            item = by_key.get(key)
            if item is None:
                problems.append(f"{where}: no item {key} (not discovered)")
                values[name] = []
                continue
            history = api.call(
                "history.get",
                {
                    "history": int(item["value_type"]),
                    "itemids": [item["itemid"]],
                    "output": "extend",
                    "sortfield": "clock",
                    "sortorder": "ASC",
                },
            )
            # Compared in microseconds: the database keeps the job's timestamps to the µs.
            values[name] = sorted(
                ((int(h["clock"]), int(h["ns"]) // 1000 * 1000), h["value"]) for h in history
            )
        created, begin, end = epoch(job["created"]), epoch(job["begin"]), epoch(job["end"])
        # Completed is stamped when the executor writes it, a few ms after the stored end (which
        # the store also keeps as the preserved time): allow 1 s.
        preserved = (end[0] + 1, end[1])
        phases = [v for _, v in values["phase"]]
        if phases != ["prepared", "running", "completed"]:
            problems.append(f"{where}: phase values {phases}, expected prepared, running, completed")
        else:
            (prepared, _), (running, _), (completed, _) = values["phase"]
            if not created <= prepared <= begin:
                problems.append(f"{where}: 'prepared' at {prepared} is not between created {created} and begin {begin}")
            if not begin <= running <= end:
                problems.append(f"{where}: 'running' at {running} is not between begin {begin} and end {end}")
            if not end <= completed <= preserved:
                problems.append(f"{where}: 'completed' at {completed} is not between end {end} and end + 1 s")
        expected_code = job.get("exitcode")
        codes = values["exitcode"]
        if expected_code is None:
            problems.append(f"{where}: the job has no exit code to compare ({job.get('outcome')})")
        elif len(codes) != 1 or float(codes[0][1]) != float(expected_code):
            problems.append(f"{where}: exit code values {codes}, expected one {expected_code}")
        elif not end <= codes[0][0] <= preserved:
            problems.append(f"{where}: exit code at {codes[0][0]} is not between end {end} and end + 1 s")
        durations = values["duration"]
        expected_secs = (end[0] - begin[0]) + (end[1] - begin[1]) / 1e9
        if len(durations) != 1 or abs(float(durations[0][1]) - expected_secs) > 0.0015:
            problems.append(f"{where}: duration values {durations}, expected one {expected_secs:.3f}")
        elif not end <= durations[0][0] <= preserved:
            problems.append(f"{where}: duration at {durations[0][0]} is not between end {end} and end + 1 s")
        # The template's trigger: a problem for a job whose exit code is not 0, none otherwise.
        problems_of_job = [
            p["name"]
            for p in api.call("problem.get", {"hostids": hostids(api, host), "output": ["name"]})
            if p["name"].startswith(f"MultiFlexi: job {jid} ")
        ]
        failed = expected_code not in (None, 0)
        if failed and not problems_of_job:
            problems.append(f"{where}: no 'failed' problem for exit code {expected_code}")
        if not failed and problems_of_job:
            problems.append(f"{where}: unexpected problems {problems_of_job}")
        print(
            f"{where} ({job.get('outcome')}): phases {phases}, exit code "
            f"{[v for _, v in codes]}, duration {[v for _, v in durations]} s, "
            f"problems {problems_of_job}"
        )
    for p in problems:
        print(f"MISSING/WRONG: {p}")
    return 1 if problems else 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "wait":
        wait(argv[1])
        return 0
    if len(argv) >= 4 and argv[0] == "setup":
        setup(argv[1], argv[2], argv[3:])
        return 0
    if len(argv) == 3 and argv[0] == "check":
        return check(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
