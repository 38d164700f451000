//! Small file helpers shared by enrollment and the spool: atomic, private writes.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically (temp file in the same directory, fsync, rename) and
/// readable only by the owner, so a crash never leaves a half-written certificate or scan.
pub fn write_private_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        // Persist the rename itself; failure here only weakens crash safety.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates a directory (and parents) accessible only by the owner.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}
