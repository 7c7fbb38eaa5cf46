-- The fewest statements today's rows can be written with: a claim of up to `lim` due jobs and
-- the end of one owner's claimed jobs, each ONE statement (data-modifying CTEs) inside a
-- PL/pgSQL function, so each is planned once per connection and costs one round trip. The claim
-- is the product's own (queue.rs `claim_pg`); the end folds the start into it (the job row is
-- written twice in all, claim and end, where the product writes it three times) and writes what
-- a finished no-op job has: the Running, Completed and Preserved audit rows, stdout.txt and
-- stderr.txt, the schedule row deleted. `with_audit` / `with_artifacts` false leave those rows
-- out, to show what they cost.
CREATE OR REPLACE FUNCTION ceiling_claim(owner text, lim int, with_audit bool)
RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
    WITH picked AS (
        SELECT s.id AS sid, s.job_id FROM schedule s
        WHERE s.claimed = FALSE AND s.executor IN ('ceiling') AND s."after" <= now()
        ORDER BY s."after", s.job_id LIMIT lim
        FOR UPDATE SKIP LOCKED
    ), marked AS (
        UPDATE schedule SET claimed = TRUE FROM picked WHERE schedule.id = picked.sid
    ), claimed AS (
        UPDATE job SET phase = 'queued', status = 'queued', lease_token = job.lease_token + 1,
            lease_owner = owner, lease_expires = clock_timestamp() + interval '30 s',
            queued = now()
        FROM picked WHERE job.id = picked.job_id AND job.phase = 'scheduled'
        RETURNING job.*
    ), audit AS (
        INSERT INTO audit_log (at, job_id, actor, action, detail)
        SELECT now(), c.id, owner, 'phase:queued', 'lease_token=' || c.lease_token::text
            || ' expires=' || to_char(c.lease_expires AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        FROM claimed c WHERE with_audit
    )
    SELECT count(*) INTO n FROM claimed;
    RETURN n;
END $f$;

CREATE OR REPLACE FUNCTION ceiling_end(owner text, with_audit bool, with_artifacts bool)
RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
    WITH ended AS (
        UPDATE job SET phase = 'preserved', status = 'preserved', outcome = 'success',
            exitcode = 0, "begin" = now(), "end" = now(), preserved = now(),
            lease_expires = NULL
        WHERE job.id IN (
            SELECT id FROM job WHERE phase = 'queued' AND lease_expires IS NOT NULL
                AND lease_owner = owner
            FOR UPDATE)
        RETURNING job.id, job.lease_owner
    ), unscheduled AS (
        DELETE FROM schedule USING ended WHERE schedule.job_id = ended.id
    ), audit AS (
        INSERT INTO audit_log (at, job_id, actor, action, detail)
        SELECT now(), e.id, e.lease_owner, a.action, a.detail
        FROM ended e CROSS JOIN (VALUES
            ('phase:running', 'pid=- external_id=-'),
            ('phase:completed', 'outcome=success exitcode=0'),
            ('phase:preserved', '')) a(action, detail)
        WHERE with_audit
    ), output AS (
        INSERT INTO artifacts (job_id, filename, content_type, content, size, note, created)
        SELECT e.id, f.name, 'text/plain', '\x'::bytea, 0, NULL, now()
        FROM ended e CROSS JOIN (VALUES ('stdout.txt'), ('stderr.txt')) f(name)
        WHERE with_artifacts
    )
    SELECT count(*) INTO n FROM ended;
    RETURN n;
END $f$;
