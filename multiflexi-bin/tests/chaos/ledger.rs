//! What every job leaves behind (the side-effect log), the job program that writes it, and the
//! assertions every scenario ends with.
//!
//! The job is a `/bin/sh` script written into the scenario's directory. It appends
//! `start <job> <slot-key> <ppid> <time>` when it begins and `end <job> <slot-key> <code> <time>`
//! when its work is done, and holds `flock -n` on `<lockdir>/<slot-key>.lock` for its whole
//! life (the lock's descriptor is inherited by every child, a `setsid` one too); when the lock
//! is taken it appends `OVERLAP <job> <slot-key> …`. `<ppid>` is the process that started the
//! job: for Native jobs the executor's per-job supervisor (a fork of the executor that dies
//! with it and takes the job along); which executor ran an attempt is the job row's lease
//! owner.
//!
//! The slot key is `<runtemplate id>-<CHAOS_SLOT>`. Ad-hoc jobs get their slot in
//! `CHAOS_SLOT` (a retry copies its job's environment, so a retry holds the same lock).
//! Scheduled jobs get the app's default `sched`: one lock per template. That is sound because
//! every scenario's templates use `concurrency_policy` forbid, under which a template has at
//! most one outstanding scheduled job; two live runs of one template at once are then always
//! a fault (a run that outlived its lease), whichever slots they belong to.
//!
//! Every path in the script (the script itself, its sleeper `nap`, a symlink to `sleep`) lies
//! in the scenario's directory, whose name is the scenario's marker: every process of a job
//! carries the marker in its command line, so `pgrep -f <marker>` finds orphans.

use crate::dockerd::ContainerRun;
use crate::postgres::{ArtifactRow, JobRow};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The job program; `@LOG@`, `@LOCKS@` and `@NAP@` are replaced with the scenario's paths.
const JOB_SCRIPT: &str = r#"#!/bin/sh
# The chaos suite's job. Behaviour from the environment:
#   CHAOS_SLOT  slot key of an ad-hoc job ("sched" for scheduled jobs: one lock per template)
#   CHAOS_SECS  seconds of work (4 lines per second on stdout and on stderr)
#   CHAOS_EXIT  exit code
#   CHAOS_MODE  work | quiet (no output: nothing a dead reader could break) | flood | setsid |
#               results
LOG='@LOG@'
LOCKS='@LOCKS@'
NAP='@NAP@'
job="${MULTIFLEXI_JOB_ID:-unknown}"
key="${MULTIFLEXI_RUNTEMPLATE_ID:-unknown}-${CHAOS_SLOT:-sched}"
now() { date +%s.%N; }
exec 9>>"$LOCKS/$key.lock"
if ! flock -n 9; then
  echo "OVERLAP $job $key $PPID $(now)" >>"$LOG"
fi
echo "start $job $key $PPID $(now)" >>"$LOG"
case "${CHAOS_MODE:-work}" in
  flood)
    head -c "${CHAOS_FLOOD_BYTES:-67108864}" /dev/zero | tr '\0' 'x'
    head -c 1048576 /dev/zero | tr '\0' 'e' >&2
    ;;
  setsid)
    # a child in a session of its own that keeps stdout, stderr and the slot's lock open
    setsid "$NAP" "${CHAOS_CHILD_SECS:-40}" &
    ;;
  results)
    i=1
    while [ "$i" -le "${CHAOS_FILES:-5}" ]; do
      head -c "$(( ${CHAOS_FILE_KIB:-2048} * 1024 ))" /dev/urandom >"result-$i.bin"
      i=$((i + 1))
    done
    ;;
esac
n=0
ticks=$(( ${CHAOS_SECS:-2} * 4 ))
quiet=
[ "${CHAOS_MODE:-work}" = quiet ] && quiet=1
while [ "$n" -lt "$ticks" ]; do
  if [ -z "$quiet" ]; then
    echo "job $job line $n"
    echo "job $job err $n" >&2
  fi
  "$NAP" 0.25
  n=$((n + 1))
done
code="${CHAOS_EXIT:-0}"
echo "end $job $key $code $(now)" >>"$LOG"
exit "$code"
"#;

/// The Docker job (busybox `sh -c`): the same knobs, no files (see `dockerd`).
pub const DOCKER_SCRIPT: &str = "n=0; t=$((${CHAOS_SECS:-2} * 4)); \
     while [ $n -lt $t ]; do echo job $MULTIFLEXI_JOB_ID line $n; busybox sleep 0.25; n=$((n + 1)); done; \
     exit ${CHAOS_EXIT:-0}";

/// Writes the job program and its sleeper into `bin`.
pub fn write_job_program(bin: &Path, log: &Path, locks: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let nap = bin.join("nap");
    let _ = std::fs::remove_file(&nap);
    std::os::unix::fs::symlink("/bin/sleep", &nap).expect("nap symlink");
    let script = JOB_SCRIPT
        .replace("@LOG@", &log.display().to_string())
        .replace("@LOCKS@", &locks.display().to_string())
        .replace("@NAP@", &nap.display().to_string());
    let path = bin.join("job.sh");
    std::fs::write(&path, script).expect("write job.sh");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// One line of the side-effect log.
#[derive(Debug, Clone)]
pub struct Effect {
    pub kind: String,
    pub job: i64,
    pub key: String,
    /// `start` / `OVERLAP`: the parent pid; `end`: the exit code.
    pub value: i64,
    pub time: f64,
}

/// The side-effect log, parsed.
#[derive(Debug, Default, Clone)]
pub struct Effects {
    pub lines: Vec<Effect>,
}

impl Effects {
    /// Reads the log (missing = empty).
    pub fn read(path: &Path) -> Effects {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines = text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.len() < 5 {
                    return None;
                }
                Some(Effect {
                    kind: f[0].to_string(),
                    job: f[1].parse().ok()?,
                    key: f[2].to_string(),
                    value: f[3].parse().ok()?,
                    time: f[4].parse().ok()?,
                })
            })
            .collect();
        Effects { lines }
    }

    /// Lines of one kind.
    pub fn of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Effect> + 'a {
        self.lines.iter().filter(move |e| e.kind == kind)
    }

    /// The `start` lines of a job.
    pub fn starts(&self, job: i64) -> Vec<&Effect> {
        self.of("start").filter(|e| e.job == job).collect()
    }

    /// The `end` lines of a job.
    pub fn ends(&self, job: i64) -> Vec<&Effect> {
        self.of("end").filter(|e| e.job == job).collect()
    }
}

/// What a scenario promises beyond the rules that always hold.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// Every fault was shorter than the lease TTL minus the margin: no `lost`, no
    /// `platform_error`, and every finished job is recorded with the exit code it returned.
    pub short_faults: bool,
    /// Every slot ends with exactly one success (all its jobs exit 0 and run to their end).
    pub all_slots_succeed: bool,
}

/// Everything the assertions look at.
#[derive(Debug)]
pub struct Observed {
    pub jobs: Vec<JobRow>,
    pub artifacts: Vec<ArtifactRow>,
    pub effects: Effects,
    pub containers: Vec<ContainerRun>,
    /// Slot keys of ad-hoc jobs the scenario created (root job id → key).
    pub roots: BTreeMap<i64, String>,
}

impl Observed {
    /// The root of a job's retry chain.
    pub fn root<'a>(&'a self, job: &'a JobRow) -> &'a JobRow {
        let mut j = job;
        let mut guard = 0;
        while let Some(parent) = j.retry_of {
            match self.jobs.iter().find(|p| p.id == parent) {
                Some(p) if guard < 1000 => j = p,
                _ => break,
            }
            guard += 1;
        }
        j
    }

    /// A job's slot: (template, scheduled slot) or (template, the scenario's ad-hoc key).
    pub fn slot_of(&self, job: &JobRow) -> String {
        let root = self.root(job);
        match (root.slot, self.roots.get(&root.id)) {
            (Some(slot), _) => format!("rt{} slot {}", root.runtemplate_id, slot.to_rfc3339()),
            (None, Some(key)) => format!("rt{} {key}", root.runtemplate_id),
            (None, None) => format!("rt{} job {}", root.runtemplate_id, root.id),
        }
    }

    /// Jobs by slot.
    pub fn slots(&self) -> BTreeMap<String, Vec<&JobRow>> {
        let mut m: BTreeMap<String, Vec<&JobRow>> = BTreeMap::new();
        for j in &self.jobs {
            m.entry(self.slot_of(j)).or_default().push(j);
        }
        m
    }

    fn job(&self, id: i64) -> Option<&JobRow> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// How a job's work ended, by the ledger: `Some(code)` when a run of it returned.
    fn work_ended(&self, job: &JobRow) -> Option<i64> {
        if let Some(end) = self.effects.ends(job.id).last() {
            return Some(end.value);
        }
        self.containers
            .iter()
            .filter(|c| c.job_id == job.id)
            .filter_map(|c| c.die.map(|(_, code)| code))
            .next_back()
    }
}

/// The rules every scenario ends with (README "Reliability"); returns the violations.
pub fn check(o: &Observed, expect: Expect) -> Vec<String> {
    let mut v = Vec::new();
    // At most one live run per slot at any instant.
    for e in o.effects.of("OVERLAP") {
        v.push(format!(
            "OVERLAP: job {} started while another run of {} held its lock (executor pid {})",
            e.job, e.key, e.value
        ));
    }
    let slots = o.slots();
    for (slot, jobs) in &slots {
        let ids: BTreeSet<i64> = jobs.iter().map(|j| j.id).collect();
        let mut runs: Vec<_> = o
            .containers
            .iter()
            .filter(|c| ids.contains(&c.job_id))
            .collect();
        runs.sort_by_key(|r| r.start);
        for pair in runs.windows(2) {
            let first_end = pair[0].die.map_or(i128::MAX, |(t, _)| t);
            if pair[1].start < first_end {
                v.push(format!(
                    "OVERLAP: container {} of job {} started while container {} of job {} ({slot}) still ran",
                    pair[1].container, pair[1].job_id, pair[0].container, pair[0].job_id
                ));
            }
        }
    }
    // A job row runs at most once (a second start of one row is a second run of its slot).
    for j in &o.jobs {
        let starts =
            o.effects.starts(j.id).len() + o.containers.iter().filter(|c| c.job_id == j.id).count();
        if starts > 1 {
            v.push(format!(
                "RAN TWICE: job {} was started {starts} times",
                j.id
            ));
        }
    }
    // Exactly one success per slot whose work ended; never two.
    for (slot, jobs) in &slots {
        let successes: Vec<i64> = jobs
            .iter()
            .filter(|j| j.outcome.as_deref() == Some("success"))
            .map(|j| j.id)
            .collect();
        if successes.len() > 1 {
            v.push(format!(
                "DOUBLE SUCCESS: {slot} has {} successes (jobs {successes:?})",
                successes.len()
            ));
        }
        let ended_ok = jobs.iter().any(|j| o.work_ended(j) == Some(0));
        if (ended_ok || expect.all_slots_succeed) && successes.is_empty() {
            v.push(format!(
                "NO SUCCESS: {slot} has no recorded success (jobs: {})",
                jobs.iter()
                    .map(|j| format!(
                        "{} {}",
                        j.id,
                        j.outcome.as_deref().unwrap_or(j.phase.as_str())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for j in &o.jobs {
        let ended = o.work_ended(j);
        // A recorded success is work that ran to its end with 0.
        if j.outcome.as_deref() == Some("success") && ended != Some(0) {
            v.push(format!(
                "PHANTOM SUCCESS: job {} is recorded success but its run did not end with 0 ({ended:?})",
                j.id
            ));
        }
        // Work that ended is recorded with what it returned.
        if let Some(code) = ended {
            let lost = matches!(j.outcome.as_deref(), Some("lost" | "platform_error"));
            let recorded_right = j.ended() && !lost && j.exitcode == Some(code);
            let slot_succeeded = slots[&o.slot_of(j)]
                .iter()
                .any(|k| k.outcome.as_deref() == Some("success"));
            let tolerated = !expect.short_faults && lost && slot_succeeded;
            if !recorded_right && !tolerated {
                v.push(format!(
                    "RESULT LOST: job {} ended with exit {code} but is recorded {} {} exit {}",
                    j.id,
                    j.phase,
                    j.outcome.as_deref().unwrap_or("-"),
                    j.exitcode.map_or("-".into(), |c| c.to_string())
                ));
            }
        }
        // Nothing stuck, nothing half-recorded.
        if !j.ended() {
            let expired = j.lease_expires.is_some_and(|t| t < chrono::Utc::now());
            v.push(format!(
                "NOT ENDED: job {} is still {}{}",
                j.id,
                j.phase,
                if expired {
                    " with an expired lease"
                } else {
                    ""
                }
            ));
        }
        if expect.short_faults && matches!(j.outcome.as_deref(), Some("lost" | "platform_error")) {
            v.push(format!(
                "SHORT FAULT BECAME {}: job {} ({})",
                j.outcome.as_deref().unwrap_or("-").to_uppercase(),
                j.id,
                j.line()
            ));
        }
        let exit_outcome = matches!(
            j.outcome.as_deref(),
            Some("success" | "warning" | "failed" | "not_found" | "not_executable" | "timeout")
        );
        if exit_outcome && j.phase != "preserved" {
            v.push(format!(
                "NOT PRESERVED: job {} ended {} but is {}",
                j.id,
                j.outcome.as_deref().unwrap_or("-"),
                j.phase
            ));
        }
        if j.phase == "preserved" {
            for name in ["stdout.txt", "stderr.txt"] {
                if !o
                    .artifacts
                    .iter()
                    .any(|a| a.job_id == j.id && a.filename == name)
                {
                    v.push(format!("NO {name}: job {} is preserved without it", j.id));
                }
            }
        }
        if let Some(parent) = j.retry_of
            && o.job(parent).is_none()
        {
            v.push(format!("job {} retries unknown job {parent}", j.id));
        }
    }
    v
}
