//! `multiflexi-job-supervisor`: the per-job supervisor the Native executor starts every job
//! with (see `native/supervisor.rs`). Not meant to be run by hand.

fn main() {
    multiflexi_executors::job_supervisor_main()
}
