-- The PostgreSQL ceiling harness (scripts/pg-ceiling.sh): :jobs Scheduled jobs, each a copy of
-- the newest job the load benchmark left in this database (its env, command and every other
-- column as the product writes them), due now, of executor kind 'ceiling', with their schedule
-- rows; audit rows and artifacts emptied so that every variant starts from the same tables.
TRUNCATE audit_log, artifacts, schedule;
DELETE FROM job WHERE id <> (SELECT max(id) FROM job);
INSERT INTO job (runtemplate_id, company_id, app_id, executor, program, image, timeout,
    memory_limit_mb, artifact_patterns, timezone, env, command, launched_by, phase, status,
    outcome, trigger, slot, attempt, retry_of, "after", lease_token, cancel_requested, stdout,
    stderr, created, scheduled, container)
SELECT runtemplate_id, company_id, app_id, 'ceiling', program, image, timeout, memory_limit_mb,
    artifact_patterns, timezone, env, command, launched_by, 'scheduled', 'scheduled', NULL,
    trigger, NULL, 0, NULL, now(), 0, false, '', '', now(), now(), container
FROM job, generate_series(1, :jobs)
WHERE id = (SELECT max(id) FROM job);
DELETE FROM job WHERE executor <> 'ceiling';
INSERT INTO schedule (job_id, "after", executor, claimed)
SELECT id, "after", executor, false FROM job;
VACUUM ANALYZE job;
VACUUM ANALYZE schedule;
