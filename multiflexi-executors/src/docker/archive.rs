//! Tar archives to and from a container: result files out (archive download of the work
//! directory, spooled to a temporary file so memory stays bounded), single files in.

use crate::results::ResultMatcher;
use bollard::Docker;
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures::StreamExt;
use multiflexi_core::artifact::sanitize_name;
use multiflexi_core::executor::JobIo;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Component;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Why collecting result files failed.
#[derive(Debug)]
pub(crate) enum CollectError {
    /// The engine's API failed.
    Api(bollard::errors::Error),
    /// Spooling or reading the archive failed.
    Io(io::Error),
    /// The `JobIo` refused a file.
    Job(multiflexi_core::Error),
}

/// A tar archive holding one regular file `name` (mode 0644) with `content`.
pub(crate) fn single_file_tar(name: &str, content: &[u8]) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, content)?;
    builder.into_inner()
}

/// A tar archive that, extracted into the job's work directory, gives that directory to
/// `uid:gid` with mode 0700.
///
/// Its one entry is the directory itself, named `/`: both engines apply an entry's owner and
/// mode to the extraction target when the entry names the target itself, but Docker skips an
/// entry named `.` (it treats it as "nothing to create"), and the target's parent cannot be
/// written when the root file system is read-only (the work directory is a volume there).
pub(crate) fn work_dir_tar(uid: u32, gid: u32) -> io::Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_mode(0o700);
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    // `set_path` refuses absolute names: write the name field directly.
    header.as_old_mut().name[0] = b'/';
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, io::empty())?;
    builder.into_inner()
}

/// Downloads `work_dir` of container `id` as a tar archive and hands every regular file that
/// `matcher` selects to `io`, named by its path relative to `work_dir`.
pub(crate) async fn collect_result_files(
    docker: &Docker,
    id: &str,
    work_dir: &str,
    matcher: &ResultMatcher,
    io: &dyn JobIo,
) -> Result<(), CollectError> {
    let spool = tempfile::tempfile().map_err(CollectError::Io)?;
    let reader = spool.try_clone().map_err(CollectError::Io)?;
    let mut spool = tokio::fs::File::from_std(spool);
    let mut stream = docker.download_from_container(
        id,
        Some(
            DownloadFromContainerOptionsBuilder::default()
                .path(work_dir)
                .build(),
        ),
    );
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => spool.write_all(&bytes).await.map_err(CollectError::Io)?,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(()),
            Err(e) => return Err(CollectError::Api(e)),
        }
    }
    spool.flush().await.map_err(CollectError::Io)?;
    drop(spool);

    let matcher = matcher.clone();
    let (reader, found) = tokio::task::spawn_blocking(move || index(reader, &matcher))
        .await
        .map_err(|e| CollectError::Io(io::Error::other(e)))?
        .map_err(CollectError::Io)?;

    let mut file = tokio::fs::File::from_std(reader);
    for (rel, offset, size) in found {
        let name = match sanitize_name(&rel) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(file = %rel, error = %e, "skipping a result file with a bad name");
                continue;
            }
        };
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(CollectError::Io)?;
        let mut content = (&mut file).take(size);
        io.result_file(&name, &mut content)
            .await
            .map_err(CollectError::Job)?;
    }
    Ok(())
}

/// A result file inside the spooled archive: (relative name, data offset, size).
type Indexed = (String, u64, u64);

/// The matching regular files of the archive.
fn index(
    mut file: std::fs::File,
    matcher: &ResultMatcher,
) -> io::Result<(std::fs::File, Vec<Indexed>)> {
    file.seek(SeekFrom::Start(0))?;
    let mut found = Vec::new();
    {
        let mut archive = tar::Archive::new(&mut file as &mut dyn Read);
        // The archive's first entry is the work directory itself, and the others start with
        // its name: `work/`, `work/a.json` (Docker; Podman for a plain directory), or `/`,
        // `/a.json` (Podman when the directory is a volume's mount point).
        let mut skip: Option<usize> = None;
        for entry in archive.entries()? {
            let entry = entry?;
            let path = entry.path()?;
            let parts: Vec<&str> = path
                .components()
                .filter_map(|c| match c {
                    Component::Normal(p) => p.to_str(),
                    _ => None,
                })
                .collect();
            let is_dir = entry.header().entry_type().is_dir();
            let skip = *skip.get_or_insert(if is_dir { parts.len().min(1) } else { 1 });
            if !entry.header().entry_type().is_file() || parts.len() <= skip {
                continue;
            }
            let rel = parts[skip..].join("/");
            if matcher.matches(&rel) {
                found.push((rel, entry.raw_file_position(), entry.size()));
            }
        }
    }
    found.sort();
    Ok((file, found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiflexi_core::executor::LaunchSpec;
    use std::path::Path;

    #[test]
    fn index_strips_the_directory_and_matches() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, content) in [
            ("work/a.json", &b"{}"[..]),
            ("work/sub/b.json", b"x"),
            ("work/c.txt", b"no"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, content).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        let mut spec = LaunchSpec::new("x", vec![], "/work");
        spec.artifacts = vec!["*.json".into(), "sub/*".into()];
        let m = ResultMatcher::new(&spec, Path::new("/work")).unwrap();
        let (mut f, found) = index(f, &m).unwrap();
        let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["a.json", "sub/b.json"]);
        let (_, off, size) = found[0];
        f.seek(SeekFrom::Start(off)).unwrap();
        let mut buf = vec![0; size as usize];
        f.read_exact(&mut buf).unwrap();
        assert_eq!(buf, b"{}");
    }

    #[test]
    fn index_takes_entries_relative_to_a_root_entry() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.as_old_mut().name[0] = b'/';
        h.set_cksum();
        b.append(&h, io::empty()).unwrap();
        for (name, content) in [("a.json", &b"{}"[..]), ("sub/b.json", b"x")] {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, content).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        let mut spec = LaunchSpec::new("x", vec![], "/work");
        spec.artifacts = vec!["*.json".into(), "sub/*".into()];
        let m = ResultMatcher::new(&spec, Path::new("/work")).unwrap();
        let (_, found) = index(f, &m).unwrap();
        let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["a.json", "sub/b.json"]);
    }

    #[test]
    fn work_dir_archive_is_the_target_itself() {
        let t = work_dir_tar(65534, 65533).unwrap();
        let mut a = tar::Archive::new(&t[..]);
        let mut entries = a.entries().unwrap();
        let e = entries.next().unwrap().unwrap();
        assert_eq!(e.path_bytes().as_ref(), b"/");
        let h = e.header();
        assert_eq!(h.entry_type(), tar::EntryType::Directory);
        assert_eq!(
            (h.uid().unwrap(), h.gid().unwrap(), h.mode().unwrap()),
            (65534, 65533, 0o700)
        );
        assert!(entries.next().is_none());
    }

    #[test]
    fn single_file_round_trips() {
        let t = single_file_tar("release", b"go\n").unwrap();
        let mut a = tar::Archive::new(&t[..]);
        let mut e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some("release"));
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        assert_eq!(s, "go\n");
    }
}
