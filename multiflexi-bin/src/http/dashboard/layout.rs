//! The page shell (head, navigation, sign-out), status badges, timestamps and the security
//! headers of every dashboard response.

use super::session::Session;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use multiflexi_core::exit_code::classify;
use multiflexi_core::store::TokenScope;
use multiflexi_core::{Job, Phase};

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Overview,
    Jobs,
    Templates,
    Apps,
    Companies,
    Retention,
    None,
}

const ENTRIES: [(Nav, &str, &str); 6] = [
    (Nav::Overview, "/", "Overview"),
    (Nav::Jobs, "/jobs", "Jobs"),
    (Nav::Templates, "/runtemplates", "Run templates"),
    (Nav::Apps, "/apps", "Apps"),
    (Nav::Companies, "/companies", "Companies"),
    (Nav::Retention, "/retention", "Retention"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · MultiFlexi" }
            link rel="stylesheet" href="/assets/dashboard.css";
            script src="/assets/dashboard.js" defer {}
        }
    }
}

/// A page for a signed-in session: navigation, who is signed in, a sign-out button.
pub(crate) fn page(session: &Session, title: &str, current: Nav, body: Markup) -> Markup {
    let scope = match session.scope() {
        TokenScope::Admin => "admin".to_string(),
        TokenScope::Company(c) => format!("company {c}"),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to main content" }
                header.topbar {
                    a.brand href="/" { "MultiFlexi" }
                    nav aria-label="Main" {
                        ul {
                            @for (nav, href, label) in ENTRIES {
                                @if nav != Nav::Retention || session.is_admin() { li {
                                    @if nav == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                } }
                            }
                        }
                    }
                    div.who {
                        span { "Signed in as " strong { (session.token.name) } " (" (scope) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(session.csrf());
                            button.btn.btn-small type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// A page without navigation (sign-in, errors before sign-in).
pub(crate) fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.topbar { a.brand href="/" { "MultiFlexi" } }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// Whether a job has finished (Completed or Preserved).
pub(crate) fn finished(job: &Job) -> bool {
    matches!(job.phase, Phase::Completed | Phase::Preserved)
}

/// The badge colour of a job (ARCHITECTURE §9): its outcome's class once finished, `bg-info`
/// before.
pub(crate) fn job_colour(job: &Job) -> &'static str {
    match job.outcome {
        Some(o) if finished(job) => classify(o, job.exitcode).colour,
        _ => "bg-info",
    }
}

/// A job's status badge: colour class plus the status word (and exit code), never colour alone.
pub(crate) fn job_badge(job: &Job) -> Markup {
    let status = job.status();
    html! {
        span class={ "badge " (job_colour(job)) } data-status=(status) {
            (status.replace('_', " "))
            @if let (true, Some(code)) = (finished(job), job.exitcode) {
                " (" (code) ")"
            }
        }
    }
}

/// An instant, in UTC, machine-readable too.
pub(crate) fn ts(t: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) }
    }
}

/// An optional instant, `—` when absent.
pub(crate) fn opt_ts(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        Some(t) => ts(t),
        None => html! { span.muted { "—" } },
    }
}

/// A duration in words (`1 h 2 min`, `3.2 s`).
pub(crate) fn duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// A byte count in words.
pub(crate) fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A hidden CSRF field for a session's form.
pub(crate) fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf()); }
}

/// Text that may be long, shown whole (for `pre`).
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Security headers on every dashboard response: no inline script or style, no framing, no
/// caching of pages that show job data.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
