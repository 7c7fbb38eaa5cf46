//! Upstream MultiFlexi's API paths (those its published client `multiflexi-client` 1.1.0 calls,
//! generated from VitexSoftware/multiflexi-api), what each one is here, and the matcher that
//! recognises them. The README's compatibility table is this table; `GET /index.json` lists it.

use axum::http::Method;

/// How an upstream path is served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Our own route at the same path does it (same use case, same rules).
    Same,
    /// Served at upstream's path in upstream's shape by the use case behind the route in `ours`.
    Alias,
    /// Served, but not as upstream does (see the note).
    Different,
    /// Not served (501 with the reason).
    Missing,
}

impl Kind {
    /// The word in the README's table.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Same => "same",
            Kind::Alias => "alias",
            Kind::Different => "different",
            Kind::Missing => "missing",
        }
    }
}

/// What an upstream path does here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Root,
    Index,
    Ping,
    Status,
    AppGet,
    AppSet,
    Apps,
    JobGet,
    JobCreate,
    Jobs,
    JobsStatus,
    TemplateSet,
    TemplateGet,
    TemplateUpdate,
    Templates,
    CompanyGet,
    CompanySet,
    Companies,
    Credentials,
    CredentialGet,
    /// Not served; the route's note says why.
    Missing,
}

/// One upstream path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Upstream's path under the base path (`{suffix}`: `json`; other formats are 406).
    pub path: &'static str,
    /// How it is served.
    pub kind: Kind,
    /// Our own route doing the same (empty: none).
    pub ours: &'static str,
    /// What differs, or why it is missing.
    pub note: &'static str,
    /// The handler.
    pub op: Op,
}

const fn r(
    method: &'static str,
    path: &'static str,
    kind: Kind,
    ours: &'static str,
    note: &'static str,
    op: Op,
) -> Route {
    Route {
        method,
        path,
        kind,
        ours,
        note,
        op,
    }
}

const NO_USERS: &str = "no user accounts here: API callers are tokens (`multiflexi-cli token:create`), sent as the Basic password";

/// Every path the client calls (36).
pub const ROUTES: &[Route] = &[
    r(
        "GET",
        "/",
        Kind::Different,
        "",
        "301 to `index.json` (upstream: to index.html)",
        Op::Root,
    ),
    r(
        "GET",
        "/index.{suffix}",
        Kind::Different,
        "GET /openapi.json",
        "this table as JSON; our full description is openapi.json",
        Op::Index,
    ),
    r(
        "GET",
        "/login.{suffix}",
        Kind::Missing,
        "",
        NO_USERS,
        Op::Missing,
    ),
    r(
        "POST",
        "/login.{suffix}",
        Kind::Missing,
        "",
        NO_USERS,
        Op::Missing,
    ),
    r("POST", "/logout", Kind::Missing, "", NO_USERS, Op::Missing),
    r(
        "GET",
        "/ping.{suffix}",
        Kind::Alias,
        "GET /ping",
        "",
        Op::Ping,
    ),
    r(
        "GET",
        "/status.{suffix}",
        Kind::Different,
        "GET /status",
        "upstream's counts (companies, apps, runtemplates, credentials) scoped to the token, `database`, `daemon`, `timestamp`; without a token only the last three",
        Op::Status,
    ),
    r(
        "GET",
        "/app/{appId}.{suffix}",
        Kind::Alias,
        "GET /app/{id}",
        "",
        Op::AppGet,
    ),
    r(
        "POST",
        "/app/",
        Kind::Alias,
        "POST /apps",
        "the body is app JSON (imported as the CLI does; same uuid or name updates); `appId`, when given, must be the app the body updates; admin only",
        Op::AppSet,
    ),
    r(
        "GET",
        "/apps.{suffix}",
        Kind::Alias,
        "GET /apps",
        "",
        Op::Apps,
    ),
    r(
        "GET",
        "/job/{jobId}.{suffix}",
        Kind::Alias,
        "GET /job/{id}",
        "",
        Op::JobGet,
    ),
    r(
        "POST",
        "/job/",
        Kind::Same,
        "POST /job/",
        "with HTTP Basic the answer is upstream's shape (201, also for an idempotent replay); `scheduled`: now, RFC 3339 or Y-m-d H:i:s in MULTIFLEXI_TIMEZONE; `runtemplate_id` also as a query parameter; `jobId` (update a job) is refused",
        Op::JobCreate,
    ),
    r(
        "GET",
        "/jobs.{suffix}",
        Kind::Alias,
        "GET /jobs",
        "an array (ours: a page with a cursor); default limit 100; order by `id` or `-id` (default)",
        Op::Jobs,
    ),
    r(
        "GET",
        "/jobs/status.{suffix}",
        Kind::Different,
        "GET /status",
        "one entry counted from the run templates' job counters and the queue, scoped to the token",
        Op::JobsStatus,
    ),
    r(
        "POST",
        "/runtemplate",
        Kind::Alias,
        "POST /runtemplates",
        "with `runTemplateId` it updates that template (PATCH /runtemplate/{id})",
        Op::TemplateSet,
    ),
    r(
        "GET",
        "/runtemplate/{runTemplateId}.{suffix}",
        Kind::Alias,
        "GET /runtemplate/{id}",
        "",
        Op::TemplateGet,
    ),
    r(
        "POST",
        "/runtemplate/{runTemplateId}.{suffix}",
        Kind::Alias,
        "PATCH /runtemplate/{id}",
        "update by POST; the body's `id` must match the path; `active` 0/1; `note` is refused (no notes here)",
        Op::TemplateUpdate,
    ),
    r(
        "GET",
        "/runtemplates.{suffix}",
        Kind::Alias,
        "GET /runtemplates",
        "",
        Op::Templates,
    ),
    r("POST", "/user/", Kind::Missing, "", NO_USERS, Op::Missing),
    r(
        "GET",
        "/user/{userId}.{suffix}",
        Kind::Missing,
        "",
        NO_USERS,
        Op::Missing,
    ),
    r(
        "GET",
        "/users.{suffix}",
        Kind::Missing,
        "",
        NO_USERS,
        Op::Missing,
    ),
    r(
        "GET",
        "/companies.{suffix}",
        Kind::Alias,
        "GET /companies",
        "",
        Op::Companies,
    ),
    r(
        "GET",
        "/company/{companyId}.{suffix}",
        Kind::Alias,
        "GET /company/{id}",
        "",
        Op::CompanyGet,
    ),
    r(
        "POST",
        "/company/",
        Kind::Alias,
        "POST /companies",
        "`name`, `email`, `enabled`, `code` (our slug); with `companyId` it updates that company; admin only",
        Op::CompanySet,
    ),
    r(
        "GET",
        "/credentials.{suffix}",
        Kind::Alias,
        "GET /credentials",
        "needs the Authorization header although the client declares none for it",
        Op::Credentials,
    ),
    r(
        "GET",
        "/credential/{credentialId}.{suffix}",
        Kind::Alias,
        "GET /credential/{id}",
        "the client's required `token` query parameter is ignored: the Authorization header authenticates (a token in a URL ends up in logs)",
        Op::CredentialGet,
    ),
    r(
        "POST",
        "/credential/{credentialId}.{suffix}",
        Kind::Missing,
        "",
        "credentials are not changed in place here (create with POST /credentials, delete with DELETE /credential/{id})",
        Op::Missing,
    ),
    r(
        "GET",
        "/credential_types.{suffix}",
        Kind::Missing,
        "",
        "no credential-type registry: a credential's type is free text",
        Op::Missing,
    ),
    r(
        "GET",
        "/credential_type/{credentialTypeID}.{suffix}",
        Kind::Missing,
        "",
        "no credential-type registry: a credential's type is free text",
        Op::Missing,
    ),
    r(
        "POST",
        "/credential_type/{credentialTypeID}.{suffix}",
        Kind::Missing,
        "",
        "no credential-type registry: a credential's type is free text",
        Op::Missing,
    ),
    r(
        "GET",
        "/topics.{suffix}",
        Kind::Missing,
        "",
        "no topic objects: an app's tags are in its `tags` and `topics`",
        Op::Missing,
    ),
    r(
        "GET",
        "/topic/{topicId}.{suffix}",
        Kind::Missing,
        "",
        "no topic objects: an app's tags are in its `tags` and `topics`",
        Op::Missing,
    ),
    r(
        "POST",
        "/topic/{topicId}.{suffix}",
        Kind::Missing,
        "",
        "no topic objects: an app's tags are in its `tags` and `topics`",
        Op::Missing,
    ),
    r(
        "GET",
        "/data-export",
        Kind::Missing,
        "",
        "no personal data of users (no user accounts); a company's data: `multiflexi-cli company:export`",
        Op::Missing,
    ),
    r(
        "POST",
        "/data-export",
        Kind::Missing,
        "",
        "no personal data of users (no user accounts); a company's data: `multiflexi-cli company:export`",
        Op::Missing,
    ),
    r(
        "GET",
        "/data-export-download",
        Kind::Missing,
        "",
        "no personal data of users (no user accounts); a company's data: `multiflexi-cli company:export`",
        Op::Missing,
    ),
];

/// A request matched to an upstream route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The route.
    pub route: &'static Route,
    /// The id in the path, as sent.
    pub id: Option<String>,
    /// The format suffix, as sent (`json`).
    pub suffix: Option<String>,
}

/// The upstream route of `method` `path` (relative to the base path), if it is one.
pub fn resolve(method: &Method, path: &str) -> Option<Matched> {
    ROUTES
        .iter()
        .filter(|r| r.method == method.as_str())
        .find_map(|r| matches(r, path))
}

fn matches(route: &'static Route, path: &str) -> Option<Matched> {
    let want: Vec<&str> = route.path.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut m = Matched {
        route,
        id: None,
        suffix: None,
    };
    for (w, g) in want.iter().zip(&got) {
        if let Some(stem) = w.strip_suffix(".{suffix}") {
            let (name, suffix) = g.rsplit_once('.')?;
            if suffix.is_empty() {
                return None;
            }
            m.suffix = Some(suffix.to_string());
            if stem.starts_with('{') {
                if name.is_empty() {
                    return None;
                }
                m.id = Some(name.to_string());
            } else if stem != name {
                return None;
            }
        } else if w != g {
            return None;
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::{Kind, Op, ROUTES, resolve};
    use axum::http::Method;

    #[test]
    fn the_table_has_every_client_path_once() {
        assert_eq!(ROUTES.len(), 36);
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            assert_eq!(r.kind == Kind::Missing, r.op == Op::Missing, "{}", r.path);
            assert!(
                r.kind != Kind::Missing || !r.note.is_empty(),
                "{}: say why",
                r.path
            );
        }
    }

    #[test]
    fn matches_suffix_paths_and_ids() {
        let m = resolve(&Method::GET, "/app/12.json").unwrap();
        assert_eq!(m.route.op, Op::AppGet);
        assert_eq!(
            (m.id.as_deref(), m.suffix.as_deref()),
            (Some("12"), Some("json"))
        );
        let m = resolve(&Method::GET, "/jobs/status.xml").unwrap();
        assert_eq!(
            (m.route.op, m.suffix.as_deref()),
            (Op::JobsStatus, Some("xml"))
        );
        assert_eq!(
            resolve(&Method::GET, "/apps.json").unwrap().route.op,
            Op::Apps
        );
        assert_eq!(
            resolve(&Method::POST, "/job/").unwrap().route.op,
            Op::JobCreate
        );
        assert_eq!(
            resolve(&Method::POST, "/runtemplate").unwrap().route.op,
            Op::TemplateSet
        );
        assert_eq!(
            resolve(&Method::POST, "/runtemplate/3.json")
                .unwrap()
                .route
                .op,
            Op::TemplateUpdate
        );
        // Our own paths are not upstream's.
        for ours in [
            "/apps",
            "/app/12",
            "/job/3",
            "/job/3/output",
            "/openapi.json",
            "/jobs",
            "/app/.json",
        ] {
            assert_eq!(resolve(&Method::GET, ours), None, "{ours}");
        }
        assert_eq!(resolve(&Method::DELETE, "/app/12.json"), None);
    }

    #[test]
    fn the_readme_table_is_this_table() {
        let readme = include_str!("../../../../../README.md");
        for r in ROUTES {
            let row = format!("| `{} {}` | {} |", r.method, r.path, r.kind.as_str());
            assert!(readme.contains(&row), "README lacks the row {row}");
        }
    }
}
