"""Drives upstream MultiFlexi's published Python client (multiflexi-client 1.1.0, unmodified)
against a live `multiflexi` server. Run by the Rust e2e test `upstream_client`.

Usage: upstream_client.py BASE_URL TOKEN FIXTURE_JSON
  BASE_URL      the API base (http://127.0.0.1:PORT/api/VitexSoftware/MultiFlexi/1.0.0)
  TOKEN         an admin token (sent as the HTTP Basic password, as the client does)
  FIXTURE_JSON  {"app": id, "company": id, "template": id, "credential": id, "job": id}

Every call must be answered and its answer parsed into the client's models; the script prints
one line per call and exits non-zero at the first failure.
"""

import json
import sys
import uuid

import multiflexi_client as mc
from multiflexi_client.configuration import Configuration
from multiflexi_client.exceptions import ApiException


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def main():
    base, token, fixture = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    conf = Configuration(host=base, username="ignored-user-name", password=token)
    # (multiflexi_client.Configuration is a model of upstream's; the client's settings class is
    # multiflexi_client.configuration.Configuration.) Some operations (credentials, status)
    # declare no auth in the client; a default Authorization header is the client's own way to
    # send it on every request.
    client = mc.ApiClient(conf, header_name="Authorization", header_value=conf.get_basic_auth_token())
    default = mc.DefaultApi(client)
    apps, companies = mc.AppApi(client), mc.CompanyApi(client)
    templates, jobs = mc.RuntemplateApi(client), mc.JobApi(client)

    r = default.ping_suffix_get_with_http_info("json")
    check("ping", r.status_code == 200 and json.loads(r.raw_data)["ping"] == "pong", r.raw_data)

    st = default.status_suffix_get("json")
    check("status", isinstance(st, mc.Status) and st.apps >= 1 and st.companies >= 1, st)

    app_list = apps.list_apps("json", limit=10, offset=0, order="-id")
    check("apps", app_list and all(isinstance(a, mc.App) for a in app_list), app_list)
    a = apps.get_app_by_id(fixture["app"], "json", limit=1)
    check("one app", isinstance(a, mc.App) and a.id == fixture["app"] and a.executable, a)
    check("app environment", isinstance(a.environment, dict) and "GREETING" in a.environment, a.environment)

    cl = companies.list_companies("json", limit=5, order="name")
    check("companies", cl and all(isinstance(c, mc.Company) for c in cl), cl)
    c = companies.get_company_by_id(fixture["company"], "json")
    check("one company", isinstance(c, mc.Company) and c.id == fixture["company"], c)

    tl = templates.list_run_templates("json", limit=5, offset=0)
    check("run templates", tl and all(isinstance(t, mc.RunTemplate) for t in tl), tl)
    t = templates.get_run_template_by_id(fixture["template"], "json")
    check("one run template", isinstance(t, mc.RunTemplate) and t.id == fixture["template"], t)

    jl = jobs.listjobs("json", limit=5, order="-id")
    check("jobs", jl and all(isinstance(j, mc.Job) for j in jl), jl)
    j = jobs.getjob_by_id(fixture["job"], "json")
    check("one job", isinstance(j, mc.Job) and j.id == fixture["job"] and isinstance(j.env, str), j)

    # Create a job. The client's setjob_by_id sends no body, so without one the server says
    # what is missing; with the body upstream documents (sent through the client's own
    # ApiClient) the answer parses as the client's Job, also when the call is repeated.
    try:
        jobs.setjob_by_id()
        check("create a job without a body is refused", False, "no error")
    except ApiException as e:
        check("create a job without a body is refused", e.status == 400 and "runtemplate_id" in (e.body or ""), e)
    key = str(uuid.uuid4())
    created = []
    for attempt in range(2):
        params = client.param_serialize(
            method="POST",
            resource_path="/job/",
            header_params={"Content-Type": "application/json", "Accept": "application/json",
                           "Idempotency-Key": key},
            body={"runtemplate_id": fixture["template"], "scheduled": "now", "env": {"DEBUG": 1}},
            auth_settings=["basicAuth"],
        )
        resp = client.call_api(*params)
        resp.read()
        parsed = client.response_deserialize(resp, {"201": "Job"}).data
        check(f"create a job (call {attempt + 1})", isinstance(parsed, mc.Job) and isinstance(parsed.id, int), parsed)
        created.append(parsed.id)
    check("create a job is idempotent", created[0] == created[1], created)
    again = jobs.getjob_by_id(created[0], "json")
    check("the created job", again.runtemplate_id == fixture["template"] and '"DEBUG":"1"' in again.env, again)

    creds = default.get_all_user_credentials("json", limit=10)
    check("credentials", creds and all(isinstance(x, mc.Credential) for x in creds), creds)
    cred = default.get_credential("unused", fixture["credential"], "json")
    check("one credential", isinstance(cred, mc.Credential) and cred.id == fixture["credential"], cred)

    upd = templates.update_run_template_by_id(
        fixture["template"], "json",
        mc.UpdateRunTemplateByIdRequest(id=fixture["template"], active=1, delay=7))
    check("update a run template by POST", isinstance(upd, mc.RunTemplate) and upd.delay == 7, upd)

    try:
        apps.get_app_by_id(fixture["app"], "xml")
        check("xml is 406", False, "no error")
    except ApiException as e:
        check("xml is 406", e.status == 406, e)

    bad = mc.ApiClient(Configuration(host=base, username="x", password="not-a-token"))
    try:
        mc.AppApi(bad).list_apps("json")
        check("a wrong token is 401", False, "no error")
    except ApiException as e:
        check("a wrong token is 401", e.status == 401, e)
    print("ALL OK")


if __name__ == "__main__":
    main()
