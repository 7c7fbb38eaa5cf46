//! The fake's container runtime: a container group's container runs as a local process of
//! `/bin/busybox` (the stand-in for the test image), in its own process group and directory,
//! with exactly the container's environment variables; its merged output becomes the log and
//! its exit status the container's terminated state.

use super::state::{Group, Inner, Operation, Runtime, now_rfc3339};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Finds the program as runc does: a path as it is, a bare name in the container's PATH.
fn resolve(program: &str, path_var: &str) -> Result<PathBuf, (i32, String)> {
    let check = |p: &Path| -> Result<(), (i32, String)> {
        let meta = std::fs::metadata(p).map_err(|_| {
            (
                127,
                format!(
                    "exec: {program:?}: stat {}: no such file or directory",
                    p.display()
                ),
            )
        })?;
        if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
            return Err((126, format!("exec: {program:?}: permission denied")));
        }
        Ok(())
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        check(&p)?;
        return Ok(p);
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(program);
        if p.is_file() && check(&p).is_ok() {
            return Ok(p);
        }
    }
    Err((
        127,
        format!("exec: {program:?}: executable file not found in $PATH"),
    ))
}

fn with_group(inner: &Inner, name: &str, f: impl FnOnce(&mut Group)) {
    if let Some(g) = inner.state.lock().unwrap().groups.get_mut(name) {
        f(g);
    }
}

fn finish_operation(inner: &Inner, op: &str, status: &'static str, error: Option<Value>) {
    inner
        .state
        .lock()
        .unwrap()
        .operations
        .insert(op.to_owned(), Operation { status, error });
}

/// Provisions group `name` (its image "pulled", its container started) and follows the
/// container to its end. `op` is the creation's operation.
pub async fn run_group(inner: Arc<Inner>, name: String, op: String) {
    tokio::time::sleep(inner.options.provisioning).await;
    let body = {
        let st = inner.state.lock().unwrap();
        match st.groups.get(&name) {
            Some(g) if !g.deleting => g.body.clone(),
            _ => return,
        }
    };
    let c = &body["properties"]["containers"][0]["properties"];
    let image = c["image"].as_str().unwrap_or_default();
    if !inner.options.images.iter().any(|i| i == image) {
        let message = format!(
            "The image '{image}' in container group '{name}' is not accessible. Please check \
             the image and registry credential."
        );
        with_group(&inner, &name, |g| {
            g.provisioning = "Failed";
            g.group_state = "Failed";
            g.container.state = Some("Waiting");
            g.container.detail = "InaccessibleImage".into();
            g.events
                .push(json!({"count": 1, "name": "Failed", "type": "Warning", "message": message}));
        });
        finish_operation(
            &inner,
            &op,
            "Failed",
            Some(json!({"code": "InaccessibleImage", "message": message})),
        );
        return;
    }
    let env: Vec<(OsString, OsString)> = c["environmentVariables"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let v = e["value"]
                .as_str()
                .or(e["secureValue"].as_str())
                .unwrap_or_default();
            (
                OsString::from(e["name"].as_str().unwrap_or_default()),
                OsString::from(v),
            )
        })
        .collect();
    let argv: Vec<String> = c["command"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = inner.root.join(&name);
    let _ = std::fs::create_dir_all(&dir);
    let resolved = match argv.first() {
        Some(p) => resolve(p, &path_var),
        None => Err((127, "no command".to_owned())),
    };
    let program = match resolved {
        Ok(p) => p,
        Err((code, message)) => {
            with_group(&inner, &name, |g| {
                g.provisioning = "Succeeded";
                g.group_state = "Failed";
                g.container.state = Some("Terminated");
                g.container.exit_code = Some(code);
                g.container.start_time = Some(now_rfc3339());
                g.container.finish_time = Some(now_rfc3339());
                g.container.detail = message;
            });
            finish_operation(&inner, &op, "Succeeded", None);
            return;
        }
    };
    let spawned = spawn(&program, &argv, env, &dir);
    let (runtime, mut child, read) = match spawned {
        Ok(s) => s,
        Err(e) => {
            finish_operation(
                &inner,
                &op,
                "Failed",
                Some(json!({"code": "ContainerStartFailed", "message": e.to_string()})),
            );
            return;
        }
    };
    let runtime = Arc::new(runtime);
    inner.state.lock().unwrap().runtimes.push(runtime.clone());
    with_group(&inner, &name, |g| {
        g.provisioning = "Succeeded";
        g.group_state = "Running";
        g.container.state = Some("Running");
        g.container.start_time = Some(now_rfc3339());
        g.container.detail = String::new();
        g.runtime = Some(runtime.clone());
        g.events
            .push(json!({"count": 1, "name": "Started", "type": "Normal", "message": "Started container"}));
    });
    finish_operation(&inner, &op, "Succeeded", None);

    let reader_rt = runtime.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::from(read);
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            reader_rt.log.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let status = tokio::task::spawn_blocking(move || child.wait()).await;
    runtime.exited.store(true, Ordering::SeqCst);
    // The log is complete once every writer is gone (grandchildren may hold the pipe).
    let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    let code = match status {
        Ok(Ok(s)) => {
            use std::os::unix::process::ExitStatusExt;
            s.code().or(s.signal().map(|sig| 128 + sig)).unwrap_or(-1)
        }
        _ => -1,
    };
    with_group(&inner, &name, |g| {
        if g.deleting {
            return;
        }
        g.group_state = if code == 0 { "Succeeded" } else { "Failed" };
        g.container.state = Some("Terminated");
        g.container.exit_code = Some(code);
        g.container.finish_time = Some(now_rfc3339());
        g.container.detail = if code == 0 { "Completed" } else { "Error" }.into();
    });
}

/// Deletes group `name`: its processes are killed, the group goes once they are gone; `op`
/// completes then.
pub async fn delete_group(inner: Arc<Inner>, name: String, op: String) {
    let runtime = inner
        .state
        .lock()
        .unwrap()
        .groups
        .get(&name)
        .and_then(|g| g.runtime.clone());
    if let Some(rt) = runtime {
        for _ in 0..100 {
            rt.kill();
            if !rt.alive() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(inner.options.deletion).await;
    let mut st = inner.state.lock().unwrap();
    st.groups.remove(&name);
    st.deleted.push(name);
    st.operations.insert(
        op,
        Operation {
            status: "Succeeded",
            error: None,
        },
    );
}

type Spawned = (Runtime, std::process::Child, std::os::fd::OwnedFd);

fn spawn(
    program: &Path,
    argv: &[String],
    env: Vec<(OsString, OsString)>,
    dir: &Path,
) -> std::io::Result<Spawned> {
    let (read, write) = nix::unistd::pipe().map_err(std::io::Error::from)?;
    let mut cmd = Command::new(program);
    cmd.arg0(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write.try_clone()?))
        .stderr(Stdio::from(write))
        .process_group(0);
    let child = cmd.spawn()?;
    let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    // `cmd` (holding the parent's copies of the write end) must go before the reader sees EOF.
    drop(cmd);
    Ok((
        Runtime {
            pgid,
            dir: dir.to_owned(),
            log: Mutex::new(Vec::new()),
            exited: std::sync::atomic::AtomicBool::new(false),
        },
        child,
        read,
    ))
}
