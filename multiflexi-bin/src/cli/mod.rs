//! `multiflexi-cli`: MultiFlexi's command names (`application:import-json`, `job:create`, …) over
//! the store. One file per command group; [`output`] prints what a command returns as text or
//! JSON (`--format`, accepted by every command).
//!
//! Exit codes: 0 on success, 1 when the command failed (one line on stderr says why: `error: …`,
//! or `{"error": "…"}` with `--format json`), 2 for a command line clap cannot parse.

pub mod app;
pub mod app_config;
pub mod app_create;
pub mod app_update;
pub mod args;
pub mod artifact;
pub mod company;
pub mod company_export;
pub mod credential;
pub mod credential_update;
pub mod describe;
pub mod doctor;
pub mod encryption;
pub mod job;
pub mod job_delete;
pub mod job_stats;
pub mod job_status;
pub mod job_update;
pub mod lookup;
pub mod output;
mod process_telemetry;
pub mod prune;
pub mod queue;
pub mod queue_fix;
pub mod retention;
pub mod runtemplate;
pub mod runtemplate_assign;
pub mod runtemplate_clone;
pub mod runtemplate_credentials;
pub mod runtemplate_schedule;
pub mod runtemplate_stale;
pub mod schedule;
pub mod system;
pub mod telemetry;
pub mod token;
pub mod token_generate;
pub mod token_update;
pub mod two_word;
pub mod wait;

use crate::config::DatabaseConfig;
use crate::database::{self, DatabaseSettings, OpenOptions};
use clap::{Parser, Subcommand};
use multiflexi_core::Store;
use multiflexi_store::SqlStore;
use output::{Format, Report, print_error};
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::OnceCell;

const AFTER_HELP: &str = "\
Environment: DATABASE_URL (default sqlite://multiflexi.sqlite?mode=rwc) or DB_CONNECTION, DB_HOST, \
DB_PORT, DB_DATABASE, DB_USERNAME, DB_PASSWORD; MULTIFLEXI_MASTER_KEY (without it, a SQLite \
database keeps its key in multiflexi.key beside it, created on first use); MULTIFLEXI_TIMEZONE \
(default timezone of new run templates and of schedule:preview, else UTC).

Exit status: 0 on success, 1 when the command failed (one line on stderr says why), 2 for a \
command line that cannot be parsed.";

/// The MultiFlexi command-line interface.
#[derive(Debug, Parser)]
#[command(
    name = "multiflexi-cli",
    version,
    about = "Manage MultiFlexi apps, companies, credentials, run templates, jobs and artifacts",
    after_help = AFTER_HELP,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// More log lines on stderr (-v info, -vv debug) when RUST_LOG is not set; accepted by every
    /// command, as upstream's.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never ask anything (accepted by every command, as upstream's; this CLI never prompts: a
    /// command that needs a confirmation takes a flag such as --yes).
    #[arg(long, short = 'n', global = true)]
    pub no_interaction: bool,
    #[command(flatten)]
    pub db: DatabaseConfig,
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import application definitions (a file, or every *.json in a folder); idempotent by uuid, else name.
    ///
    /// What real files do differently is read with a warning each (JSON path, what was done):
    /// artifact paths as globs (`*.json`), regular expressions (start with ^, end with $, or
    /// hold \\, .*, .+, ( or |) or macros (`${RESULT_FILE}`), and a warning when one can match
    /// nothing; fields at the top level; an executable with spaces; bool defaults that are
    /// not booleans.
    ///
    /// Example: multiflexi-cli application:import-json --file /usr/lib/multiflexi/apps --format json
    #[command(name = "application:import-json")]
    AppImport(app::ImportArgs),
    /// Check application definitions against the schema; every violation with its JSON path,
    /// and every key written twice with different values (only the last is read).
    ///
    /// Example: multiflexi-cli application:validate-json --file multiflexi/app.json
    #[command(name = "application:validate-json")]
    AppValidate(app::ValidateArgs),
    /// Write an app as an application definition (stdout or --file).
    #[command(name = "application:export-json")]
    AppExport(app::ExportArgs),
    /// List apps, optionally only those with this --name or --uuid (as upstream's modules ask).
    ///
    /// Example: multiflexi-cli application:list --uuid 0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11 --format json
    #[command(name = "application:list")]
    AppList(app::ListArgs),
    /// Show one app, by id, --name or --uuid.
    ///
    /// Example: multiflexi-cli application:get --uuid 0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11 --format json
    #[command(name = "application:get")]
    AppGet(lookup::AppLookup),
    /// Create an app from a name and an executable (a definition file is import-json's).
    ///
    /// Example: multiflexi-cli application:create --name "Bank sync" --executable /usr/bin/bank-sync --topics Bank,Sync --format json
    #[command(name = "application:create")]
    AppCreate(app_create::CreateArgs),
    /// The configuration fields an app declares (its environment), secret defaults as ***.
    ///
    /// Example: multiflexi-cli application:show-config --uuid 0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11 --format json
    #[command(name = "application:show-config")]
    AppShowConfig(lookup::AppLookup),
    /// Change an app, found by id or --uuid: upstream's fields (--name, --description,
    /// --appversion, --executable, --new-uuid, --ociimage, --homepage, --tags, --requirements,
    /// --status enabled|disabled; read back by the importer, so its warnings apply) and what it
    /// needs from a container sandbox (--capability, --no-capabilities, --read-only-root).
    /// Admin only; audited.
    ///
    /// Example: multiflexi-cli application:update --uuid 0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11 --executable /usr/bin/bank-sync --appversion 1.2.0 --format json
    #[command(name = "application:update")]
    AppUpdate(app_update::UpdateArgs),
    /// Delete an app, by id, --name or --uuid (refused while run templates use it).
    ///
    /// Example: multiflexi-cli application:delete --uuid 0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11 --format json
    #[command(name = "application:delete")]
    AppDelete(lookup::AppLookup),

    /// Create a company.
    #[command(name = "company:create")]
    CompanyCreate(company::CreateArgs),
    /// Change a company.
    #[command(name = "company:update")]
    CompanyUpdate(company::UpdateArgs),
    /// List companies.
    #[command(name = "company:list")]
    CompanyList,
    /// Show one company, by id, --name or --slug (secret environment values as ***).
    ///
    /// Example: multiflexi-cli company:get --slug acme --format json
    #[command(name = "company:get")]
    CompanyGet(lookup::CompanyLookup),
    /// Delete a company (refused while it has run templates or credentials).
    #[command(name = "company:delete", visible_alias = "company:remove")]
    CompanyDelete(args::IdArg),
    /// Erase a company (GDPR): stop its templates, cancel its unstarted jobs, then delete its
    /// jobs with output and artifacts, templates, credentials and the company (--yes).
    #[command(name = "company:erase")]
    CompanyErase(company::EraseArgs),
    /// Write everything stored about a company (catalog rows with secret values ***, jobs,
    /// artifacts) as one tar archive, for a data-subject request.
    #[command(name = "company:export")]
    CompanyExport(company_export::ExportArgs),
    /// Set company environment values (KEY=VALUE…).
    #[command(name = "company:env-set")]
    CompanyEnvSet(company::EnvSetArgs),
    /// Remove company environment values (KEY…).
    #[command(name = "company:env-unset")]
    CompanyEnvUnset(company::EnvUnsetArgs),

    /// Create a credential (KEY=VALUE…; --secret KEY for secret values).
    #[command(name = "credential:create")]
    CredentialCreate(credential::CreateArgs),
    /// List credentials (secret values never shown).
    #[command(name = "credential:list")]
    CredentialList(credential::ListArgs),
    /// Show one credential (secret values as ***).
    #[command(name = "credential:get")]
    CredentialGet(args::IdArg),
    /// Change a credential: --name, --type, values as KEY=VALUE (--secret KEY for secret ones;
    /// a secret value set again stays secret), --unset KEY. It stays with its company
    /// (--company-id, as upstream's scripts send it, must be its own). Audited, never a value.
    ///
    /// Example: multiflexi-cli credential:update --id 2 --name "Main bank" ABRAFLEXI_PASSWORD=n3w --secret ABRAFLEXI_PASSWORD --format json
    #[command(name = "credential:update")]
    CredentialUpdate(credential_update::UpdateArgs),
    /// Delete a credential (refused while run templates use it).
    #[command(name = "credential:delete", visible_alias = "credential:remove")]
    CredentialDelete(args::IdArg),

    /// Create a run template: which app runs for which company, how often, how.
    #[command(name = "run-template:create")]
    TemplateCreate(runtemplate::CreateArgs),
    /// Change a run template.
    #[command(name = "run-template:update")]
    TemplateUpdate(runtemplate::UpdateArgs),
    /// List run templates.
    #[command(name = "run-template:list")]
    TemplateList(runtemplate::ListArgs),
    /// Show one run template.
    #[command(name = "run-template:get")]
    TemplateGet(args::IdArg),
    /// Give a run template's jobs a credential's values (of the template's company).
    ///
    /// Example: multiflexi-cli run-template:assign-credential --runtemplate_id 3 --credential_id 2
    #[command(name = "run-template:assign-credential")]
    TemplateAssignCredential(runtemplate_assign::AssignArgs),
    /// Stop giving a run template's jobs a credential's values.
    ///
    /// Example: multiflexi-cli run-template:unassign-credential --runtemplate_id 3 --credential_id 2
    #[command(name = "run-template:unassign-credential")]
    TemplateUnassignCredential(runtemplate_assign::AssignArgs),
    /// List the credentials a run template's jobs get (secret values never shown).
    ///
    /// Example: multiflexi-cli run-template:list-credentials --runtemplate_id 3 --format json
    #[command(name = "run-template:list-credentials")]
    TemplateListCredentials(runtemplate_credentials::ListArgs),
    /// Delete a run template (refused while it has unfinished jobs).
    #[command(name = "run-template:delete")]
    TemplateDelete(args::IdArg),
    /// Create a job of a run template, as upstream's: due now or at --schedule_time, on
    /// --executor, with one-off --config KEY=VALUE; refused for an inactive template; --wait
    /// waits for it. (Moving next_schedule, its former meaning, is run-template:next-schedule.)
    ///
    /// Example: multiflexi-cli run-template:schedule --id 3 --schedule_time now --config DEBUG=1 --format json
    #[command(name = "run-template:schedule")]
    TemplateSchedule(runtemplate_schedule::ScheduleArgs),
    /// Set when the scheduler fires a run template next (default now); this was
    /// run-template:schedule before it took upstream's meaning.
    ///
    /// Example: multiflexi-cli run-template:next-schedule 3 --when 2026-12-24T18:00:00+01:00
    #[command(name = "run-template:next-schedule")]
    TemplateNextSchedule(runtemplate::ScheduleArgs),

    /// Active, scheduled run templates whose next slot lies more than --tolerance-hours in the
    /// past (the scheduler is not getting to them); for monitoring, changes nothing.
    ///
    /// Example: multiflexi-cli run-template:stale --tolerance-hours 6 --format json
    #[command(name = "run-template:stale")]
    TemplateStale(runtemplate_stale::StaleArgs),
    /// Copy a run template (schedule, executor, configuration, credentials, policies,
    /// actions) under --name (default "<name> Clone"); the copy is inactive until activated.
    ///
    /// Example: multiflexi-cli run-template:clone --id 3 --name "nightly (test)" --format json
    #[command(name = "run-template:clone")]
    TemplateClone(runtemplate_clone::CloneArgs),

    /// Create a job of a run template, due now (trigger cli); --wait waits for it to end and
    /// exits with its exit status.
    ///
    /// Example: multiflexi-cli job:create --template 3 --env DEBUG=1 --wait --timeout 600
    #[command(name = "job:create")]
    JobCreate(job::CreateArgs),
    /// Wait for a job to end: its phase changes on stderr, its output streamed, then exit with
    /// its exit status (its own code; 75 lost or platform_error; 124 timeout; 130 cancelled;
    /// 3 when --timeout is reached first, the job going on).
    ///
    /// Example: multiflexi-cli job:wait 7 --timeout 600
    #[command(name = "job:wait")]
    JobWait(wait::JobWaitArgs),
    /// Make a job still waiting in the queue due at another time (--scheduled). Upstream's
    /// --runtemplate_id, --app_id and --executor are accepted when they are the job's own; a job
    /// keeps what it was made with (cancel it and job:create another), and a job an executor
    /// has claimed, or that has ended, is refused. Audited.
    ///
    /// Example: multiflexi-cli job:update --id 7 --scheduled "2026-12-24 18:00:00" --format json
    #[command(name = "job:update")]
    JobUpdate(job_update::UpdateArgs),
    /// Cancel a job (at once when only scheduled; else its executor stops it).
    #[command(name = "job:cancel")]
    JobCancel(args::IdArg),
    /// Job statistics as upstream's: successful, failed, incomplete, applications, repeated
    /// (scheduler-made), total, queue length.
    ///
    /// Example: multiflexi-cli job:status --format json
    #[command(name = "job:status")]
    JobStatus,
    /// A run template's or an app's job statistics over the last N days: counts by outcome and
    /// exit code, duration, queue-wait and peak-memory percentiles (p50, p90, p99), per UTC
    /// day; --last N lists the last N jobs too.
    ///
    /// Example: multiflexi-cli job:stats --template 3 --days 30 --format json
    #[command(name = "job:stats")]
    JobStats(job_stats::StatsArgs),
    /// List jobs, newest first.
    #[command(name = "job:list")]
    JobList(job::ListArgs),
    /// Show one job: phases, exit code and its meaning, timings, artifacts, environment.
    #[command(name = "job:get")]
    JobGet(args::IdArg),
    /// Run a finished job again (a manual copy with the same command and environment).
    #[command(name = "job:retry")]
    JobRetry(args::IdArg),
    /// Delete one finished job with its output and artifacts (refused until it has finished).
    ///
    /// Example: multiflexi-cli job:delete --id 7 --format json
    #[command(name = "job:delete")]
    JobDelete(args::IdArg),
    /// Delete finished jobs older than N days, with their output and artifacts.
    #[command(name = "job:cleanup")]
    JobCleanup(job::CleanupArgs),

    /// List the retention policies (without any, nothing is deleted automatically).
    #[command(name = "retention:list")]
    RetentionList,
    /// Set how long finished jobs of a company, an app, both, or all (the default) are kept,
    /// or the audit log (--audit); replaces the scope's policy.
    #[command(name = "retention:set")]
    RetentionSet(retention::SetArgs),
    /// Remove a retention policy (jobs of its scope fall to the next less specific one).
    #[command(name = "retention:unset")]
    RetentionUnset(retention::ScopeArgs),
    /// Apply the retention policies now in small batches (the daemons do it every hour), or
    /// --dry-run to list what they would delete.
    #[command(name = "retention:run")]
    RetentionRun(retention::RunArgs),

    /// List a job's artifacts; --fields keeps only the fields named (upstream's).
    ///
    /// Example: multiflexi-cli artifact:list --job_id 7 --fields id,filename --format json
    #[command(name = "artifact:list")]
    ArtifactList(artifact::ListArgs),
    /// Write an artifact's content, byte for byte, to a file or stdout (-); artifact:save
    /// is upstream's name for it.
    ///
    /// Example: multiflexi-cli artifact:save --id 12 --file report.json --format json
    #[command(name = "artifact:get", visible_alias = "artifact:save")]
    ArtifactGet(artifact::GetArgs),

    /// Show the next runs of an interval code or cron expression in a timezone.
    #[command(name = "schedule:preview")]
    SchedulePreview(schedule::PreviewArgs),

    /// Count jobs by phase.
    #[command(name = "queue:overview")]
    QueueOverview,
    /// List the jobs waiting in the queue (phase scheduled) with template, app and company.
    ///
    /// Example: multiflexi-cli queue:list --order runtemplate_name --direction DESC --limit 20
    #[command(name = "queue:list")]
    QueueList(queue::ListArgs),
    /// Empty the queue: cancel every job waiting in it (nothing deleted; audited), or
    /// --dry-run to count them.
    ///
    /// Example: multiflexi-cli queue:truncate --dry-run
    #[command(name = "queue:truncate")]
    QueueTruncate(queue::TruncateArgs),
    /// Recover expired executor leases now (jobs back in the queue, or ended lost with their
    /// retry), as the scheduler does every pass. Admin only.
    ///
    /// Example: multiflexi-cli queue:fix --format json
    #[command(name = "queue:fix")]
    QueueFix,
    /// Every command with its arguments and options, as JSON (from the parser's own model).
    ///
    /// Example: multiflexi-cli describe > commands.json
    #[command(name = "describe")]
    Describe,
    /// Show the database (password hidden), its schema version and what it holds.
    #[command(name = "status")]
    Status,
    /// Whether secrets can be sealed, with which key and from where (never the key itself).
    ///
    /// Example: multiflexi-cli encryption:status --format json
    #[command(name = "encryption:status")]
    EncryptionStatus,
    /// Create the key file that seals secrets beside a SQLite database when there is none (the
    /// CLI and `multiflexi serve` also do it on first use); one that is there is left alone
    /// (exit 0, said so) unless --force, which keeps the old file as multiflexi.key.<key id>.old
    /// (secrets sealed with it cannot be read with the new key). With MULTIFLEXI_MASTER_KEY
    /// set nothing is written; PostgreSQL and MySQL need that variable.
    ///
    /// Example: multiflexi-cli encryption:init --format json
    #[command(name = "encryption:init")]
    EncryptionInit(encryption::InitArgs),
    /// Create or upgrade the database schema.
    #[command(name = "migrate")]
    Migrate,
    /// Report what the isolation rules would refuse in stored data (loader variables in
    /// environments, credentials and template configs; container apps run on the host); exits 1 when it finds any.
    #[command(name = "doctor")]
    Doctor,

    /// List audit-log rows (phase transitions and operator actions), oldest first.
    #[command(name = "audit:list")]
    AuditList(telemetry::AuditArgs),
    /// Send one test item to each configured telemetry sink and show what each answered.
    #[command(name = "telemetry:test")]
    TelemetryTest,

    /// Make a bearer token for the HTTP API and the dashboard (its secret is shown only once).
    #[command(name = "token:create")]
    TokenCreate(token::CreateArgs),
    /// List tokens (never their secrets).
    #[command(name = "token:list")]
    TokenList,
    /// Make a token, as upstream's token:generate: its secret is printed once (only its hash
    /// is stored). Tokens here belong to no user: the scope is --admin or --company ID
    /// (--user, --login, --email and --ttl are refused, saying why).
    ///
    /// Example: multiflexi-cli token:generate --company 1 --name acme-ci --format json
    #[command(name = "token:generate")]
    TokenGenerate(token_generate::GenerateArgs),
    /// Rename a token (--name) or give it a new secret (--regenerate: printed once, the old
    /// one stops working). A secret the caller chooses (upstream's --token) is refused.
    ///
    /// Example: multiflexi-cli token:update --id 3 --regenerate --format json
    #[command(name = "token:update")]
    TokenUpdate(token_update::UpdateArgs),
    /// Keep the newest N finished jobs, delete older finished ones with their output and
    /// artifacts (upstream's prune; --logs prunes nothing: there is no log table here).
    ///
    /// Example: multiflexi-cli prune --jobs --keep 1000 --dry-run
    #[command(name = "prune")]
    Prune(prune::PruneArgs),
    /// Show one token (never its secret).
    ///
    /// Example: multiflexi-cli token:get --id 3 --format json
    #[command(name = "token:get")]
    TokenGet(args::IdArg),
    /// Revoke a token: it authenticates nothing from then on (`token:delete` as upstream's;
    /// the row stays, for the audit trail).
    ///
    /// Example: multiflexi-cli token:revoke --id 3
    #[command(name = "token:revoke", visible_alias = "token:delete")]
    TokenRevoke(args::IdArg),
}

/// What every command gets: the database settings (resolved and opened on first use) and the
/// output format.
#[derive(Debug)]
pub struct Ctx {
    /// Where the database is, as configured.
    pub db: DatabaseConfig,
    /// `--format`.
    pub format: Format,
    settings: OnceCell<DatabaseSettings>,
    store: OnceCell<Arc<SqlStore>>,
}

impl Ctx {
    /// A context; nothing is resolved or opened yet (commands that need no database never do).
    pub fn new(db: DatabaseConfig, format: Format) -> Self {
        Self {
            db,
            format,
            settings: OnceCell::new(),
            store: OnceCell::new(),
        }
    }

    /// The database settings, resolved from [`Ctx::db`] on first use.
    pub async fn database_settings(&self) -> anyhow::Result<&DatabaseSettings> {
        self.settings
            .get_or_try_init(|| async { DatabaseSettings::resolve(&self.db) })
            .await
    }

    /// The store, opened (and migrated) on first use; a SQLite database gets its key file.
    /// It is the light store of a one-shot command: no SQLite writer thread, no checkpointer,
    /// a pool of two connections.
    pub async fn store(&self) -> anyhow::Result<Arc<SqlStore>> {
        self.store
            .get_or_try_init(|| async {
                let settings = self.database_settings().await?;
                let options = OpenOptions::one_shot().creating_key_file(true);
                Ok(database::open(settings, options).await?.store)
            })
            .await
            .cloned()
    }
}

/// The application layer as the CLI calls it: the operator, over this command's store, with
/// the telemetry the environment configures (so a job the CLI creates emits its events).
impl Ctx {
    /// The use cases over this command's store.
    pub async fn usecases(&self) -> anyhow::Result<crate::usecase::UseCases> {
        let store = self.store().await?;
        let telemetry = process_telemetry::telemetry(&*store).await;
        let store: Arc<dyn Store> = store;
        Ok(crate::usecase::UseCases::new(
            store,
            Arc::new(multiflexi_core::SystemClock),
            telemetry,
        ))
    }

    /// The operator, named after the logged-in user.
    pub fn caller(&self) -> crate::usecase::Caller {
        crate::usecase::Caller::operator(args::actor())
    }

    /// Sends what the telemetry sinks still hold and stops them; call it once, before the
    /// process exits. Nothing to do when no use case started them.
    pub async fn finish_telemetry(&self) {
        process_telemetry::finish().await;
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, so that a failure leaves no
/// half-written file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Runs one command.
pub async fn dispatch(ctx: &Ctx, command: &Command) -> anyhow::Result<Report> {
    use Command as C;
    match command {
        C::AppImport(a) => app::import(ctx, a).await,
        C::AppValidate(a) => app::validate_json(a).await,
        C::AppExport(a) => app::export(ctx, a).await,
        C::AppList(args) => app::list(ctx, args).await,
        C::AppGet(a) => app::get(ctx, a).await,
        C::AppUpdate(a) => app_update::update(ctx, a).await,
        C::AppDelete(a) => app::delete(ctx, a).await,
        C::CompanyCreate(a) => company::create(ctx, a).await,
        C::CompanyUpdate(a) => company::update(ctx, a).await,
        C::CompanyList => company::list(ctx).await,
        C::CompanyGet(a) => company::get(ctx, a).await,
        C::CompanyDelete(a) => company::delete(ctx, a).await,
        C::CompanyErase(a) => company::erase(ctx, a).await,
        C::CompanyExport(a) => company_export::export(ctx, a).await,
        C::CompanyEnvSet(a) => company::env_set(ctx, a).await,
        C::CompanyEnvUnset(a) => company::env_unset(ctx, a).await,
        C::CredentialCreate(a) => credential::create(ctx, a).await,
        C::CredentialList(a) => credential::list(ctx, a).await,
        C::CredentialGet(a) => credential::get(ctx, a).await,
        C::CredentialDelete(a) => credential::delete(ctx, a).await,
        C::CredentialUpdate(a) => credential_update::update(ctx, a).await,
        C::TemplateCreate(a) => runtemplate::create(ctx, a).await,
        C::TemplateUpdate(a) => runtemplate::update(ctx, a).await,
        C::TemplateList(a) => runtemplate::list(ctx, a).await,
        C::TemplateGet(a) => runtemplate::get(ctx, a).await,
        C::TemplateAssignCredential(a) => runtemplate_assign::assign(ctx, a, true).await,
        C::TemplateUnassignCredential(a) => runtemplate_assign::assign(ctx, a, false).await,
        C::TemplateListCredentials(a) => runtemplate_credentials::list(ctx, a).await,
        C::TemplateDelete(a) => runtemplate::delete(ctx, a).await,
        C::TemplateSchedule(a) => runtemplate_schedule::schedule(ctx, a).await,
        C::TemplateNextSchedule(a) => runtemplate::schedule(ctx, a).await,
        C::JobCreate(a) => job::create(ctx, a).await,
        C::JobWait(a) => wait::job_wait(ctx, a).await,
        C::JobCancel(a) => job::cancel(ctx, a).await,
        C::JobUpdate(a) => job_update::update(ctx, a).await,
        C::JobList(a) => job::list(ctx, a).await,
        C::JobStatus => job_status::status(ctx).await,
        C::JobStats(a) => job_stats::stats(ctx, a).await,
        C::JobGet(a) => job::get(ctx, a).await,
        C::JobRetry(a) => job::retry(ctx, a).await,
        C::JobCleanup(a) => job::cleanup(ctx, a).await,
        C::JobDelete(a) => job_delete::delete(ctx, a).await,
        C::RetentionList => retention::list(ctx).await,
        C::RetentionSet(a) => retention::set(ctx, a).await,
        C::RetentionUnset(a) => retention::unset(ctx, a).await,
        C::RetentionRun(a) => retention::run(ctx, a).await,
        C::ArtifactList(a) => artifact::list(ctx, a).await,
        C::ArtifactGet(a) => artifact::get(ctx, a).await,
        C::SchedulePreview(a) => schedule::preview(a),
        C::QueueOverview => system::queue_overview(ctx).await,
        C::QueueList(a) => queue::list(ctx, a).await,
        C::QueueTruncate(a) => queue::truncate(ctx, a).await,
        C::QueueFix => queue_fix::fix(ctx).await,
        C::AppShowConfig(a) => app_config::show_config(ctx, a).await,
        C::AppCreate(a) => app_create::create(ctx, a).await,
        C::TemplateStale(a) => runtemplate_stale::stale(ctx, a).await,
        C::TemplateClone(a) => runtemplate_clone::clone(ctx, a).await,
        C::Describe => describe::describe(),
        C::Status => system::status(ctx).await,
        C::EncryptionStatus => encryption::status(ctx).await,
        C::EncryptionInit(a) => encryption::init(ctx, a).await,
        C::Migrate => system::migrate(ctx).await,
        C::Doctor => doctor::doctor(ctx).await,
        C::AuditList(a) => telemetry::list(ctx, a).await,
        C::TelemetryTest => telemetry::test(ctx).await,
        C::TokenCreate(a) => token::create(ctx, a).await,
        C::TokenList => token::list(ctx).await,
        C::TokenGenerate(a) => token_generate::generate(ctx, a).await,
        C::TokenUpdate(a) => token_update::update(ctx, a).await,
        C::TokenGet(a) => token::get(ctx, a).await,
        C::Prune(a) => prune::prune(ctx, a).await,
        C::TokenRevoke(a) => token::revoke(ctx, a).await,
    }
}

/// The command that lists the ids of an entity, for "not found" messages.
fn list_command(entity: &str) -> Option<&'static str> {
    Some(match entity {
        "app" => "application:list",
        "company" => "company:list",
        "credential" => "credential:list",
        "runtemplate" => "run-template:list",
        "job" => "job:list",
        "artifact" => "artifact:list --job ID",
        "token" => "token:list",
        _ => return None,
    })
}

/// The one line an error is reported as: the cause chain (`{:#}`), with a hint where one helps.
pub fn error_message(e: &anyhow::Error) -> String {
    let mut msg = format!("{e:#}");
    if let Some(multiflexi_core::Error::NotFound { entity, .. }) =
        e.downcast_ref::<multiflexi_core::Error>()
        && let Some(cmd) = list_command(entity)
    {
        msg.push_str(&format!("; {cmd} shows the ones that exist"));
    }
    output::one_line(&msg)
}

/// Runs a parsed command line: prints the report or the error, returns the exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let Cli {
        format,
        db,
        command,
        ..
    } = cli;
    let ctx = Ctx::new(db, format);
    let result = dispatch(&ctx, &command).await;
    ctx.finish_telemetry().await;
    match result {
        Ok(report) => {
            // A closed stdout (`| head`) is not a failure of the command.
            let _ = report.print(format);
            if let Some(f) = &report.failure {
                print_error(format, f);
            }
            match (report.exit, &report.failure) {
                (Some(status), _) => ExitCode::from(status),
                (None, Some(_)) => ExitCode::FAILURE,
                (None, None) => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            print_error(format, &error_message(&e));
            ExitCode::FAILURE
        }
    }
}

/// Whether the raw command line asks for JSON (to report a command line clap rejects as JSON too).
fn wants_json(argv: &[OsString]) -> bool {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.iter().enumerate().any(|(i, a)| {
        a == "--format=json"
            || a == "--output=json"
            || ((a == "--format" || a == "--output")
                && args.get(i + 1).is_some_and(|n| n == "json"))
    })
}

/// The `multiflexi-cli` program.
pub fn main() -> ExitCode {
    main_from(std::env::args_os().collect())
}

/// The `multiflexi-cli` program with the command line `argv` (`argv[0]` its name).
pub fn main_from(argv: Vec<OsString>) -> ExitCode {
    let argv = match two_word::normalize(argv.clone()) {
        Ok(argv) => argv,
        Err(two_word::Unsupported(why)) => {
            let format = if wants_json(&argv) {
                Format::Json
            } else {
                Format::Text
            };
            print_error(format, &why);
            return ExitCode::FAILURE;
        }
    };
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
            if code != 0 && wants_json(&argv) {
                let text = e.to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("invalid command line")
                    .trim_start_matches("error: ");
                print_error(Format::Json, first);
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            print_error(cli.format, &format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}
