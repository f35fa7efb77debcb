//! Files the CLI writes: the records (`-o`) and saved bodies (`--save-bodies`), opened so
//! that a symbolic link planted at their path is never followed.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Opens `path` for the records: created if missing, emptied if it is a regular file.
///
/// A symbolic link at `path` is refused (the file it points to is left alone), as is the
/// input file itself (`input`), which the run is still reading. A FIFO or a device is
/// written to as it is.
pub(crate) fn create_output(path: &Path, input: Option<&Metadata>) -> Result<File, String> {
    let shown = path.display();
    let file = open_no_follow(path, false)
        .map_err(|err| format!("cannot create {shown}: {}", why(&err)))?;
    let meta = file.metadata().map_err(|err| format!("cannot create {shown}: {err}"))?;
    if input.is_some_and(|input| same_file(input, &meta)) {
        return Err(format!("cannot create {shown}: it is the input file"));
    }
    if meta.is_file() {
        file.set_len(0).map_err(|err| format!("cannot empty {shown}: {err}"))?;
    }
    Ok(file)
}

/// Creates (or empties) `dir/name` for a saved body, and returns it with its path.
///
/// `name` must be one plain file name: no separator, not `.` or `..`, so nothing is written
/// outside `dir`. What is already at that path is used only if it is a regular file with
/// no other hard link: a symbolic link, a FIFO or a hard link planted there is refused.
pub(crate) fn create_body(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        let message = format!("{name:?} is not a plain file name");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    let path = dir.join(name);
    let refuse = |what: &str| {
        let message = format!("{} {what}", path.display());
        Err(io::Error::new(io::ErrorKind::AlreadyExists, message))
    };
    // Non-blocking: opening a FIFO planted there would otherwise wait for a reader.
    let file = match open_no_follow(&path, true) {
        Ok(file) => file,
        Err(err) if is_link_error(&err) => return refuse("is a symbolic link"),
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return refuse("is not a regular file");
    }
    if links(&meta) > 1 {
        return refuse("has other hard links");
    }
    file.set_len(0)?;
    Ok((file, path))
}

/// Why an open failed, in the user's words where the OS's would puzzle.
fn why(err: &io::Error) -> String {
    if is_link_error(err) {
        "it is a symbolic link, which volley does not follow".to_owned()
    } else {
        err.to_string()
    }
}

/// Opens `path` for writing, creating it if missing, without following a symbolic link
/// at `path` itself (`O_NOFOLLOW`: the open fails with `ELOOP`).
#[cfg(unix)]
fn open_no_follow(path: &Path, nonblocking: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let nonblocking = if nonblocking { libc::O_NONBLOCK } else { 0 };
    OpenOptions::new()
        .write(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW | nonblocking)
        .open(path)
}

/// Elsewhere the check is a look before the open: racy, but better than none.
#[cfg(not(unix))]
fn open_no_follow(path: &Path, _nonblocking: bool) -> io::Result<File> {
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, LINK));
    }
    OpenOptions::new().write(true).create(true).open(path)
}

#[cfg(not(unix))]
const LINK: &str = "a symbolic link";

#[cfg(unix)]
fn is_link_error(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_link_error(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::InvalidInput && err.to_string() == LINK
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_a: &Metadata, _b: &Metadata) -> bool {
    false
}

#[cfg(unix)]
fn links(meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
fn links(_meta: &Metadata) -> u64 {
    1
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("volley-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn output_refuses_a_symlink_and_the_input_but_empties_a_regular_file() {
        let dir = scratch("output");
        let (victim, link, plain) = (dir.join("victim"), dir.join("link"), dir.join("plain"));
        std::fs::write(&victim, "keep me").unwrap();
        symlink(&victim, &link).unwrap();
        let err = create_output(&link, None).unwrap_err();
        assert!(err.ends_with("it is a symbolic link, which volley does not follow"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");

        let input = std::fs::metadata(&victim).unwrap();
        let err = create_output(&victim, Some(&input)).unwrap_err();
        assert!(err.ends_with("it is the input file"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");

        std::fs::write(&plain, "old records").unwrap();
        drop(create_output(&plain, Some(&input)).unwrap());
        assert_eq!(std::fs::metadata(&plain).unwrap().len(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bodies_stay_in_their_directory() {
        let dir = scratch("bodies");
        let outside = dir.join("outside");
        std::fs::write(&outside, "keep me").unwrap();
        let bodies = dir.join("bodies");
        std::fs::create_dir(&bodies).unwrap();
        symlink(&outside, bodies.join("1.body")).unwrap();
        std::fs::hard_link(&outside, bodies.join("2.body")).unwrap();
        std::fs::write(bodies.join("3.body"), "an old body").unwrap();

        for (name, why) in [
            ("1.body", "is a symbolic link"),
            ("2.body", "has other hard links"),
            ("../outside", "is not a plain file name"),
            ("..", "is not a plain file name"),
        ] {
            let err = create_body(&bodies, name).unwrap_err();
            assert!(err.to_string().ends_with(why), "{name}: {err}");
        }
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
        let (_, path) = create_body(&bodies, "3.body").unwrap();
        assert_eq!(
            (path.clone(), std::fs::metadata(&path).unwrap().len()),
            (bodies.join("3.body"), 0)
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
