//! The single pass over the scan root, on a small pool of worker threads.
//!
//! Directories and parse jobs share one LIFO queue: a worker that lists a directory pushes its
//! subdirectories and the interesting files it saw (site-packages directories, archives,
//! `package.json` of installed modules, interpreter binaries, JDK `release` files, `pyvenv.cfg`)
//! as jobs, and whichever worker is free takes the next one. Files are classified by name and
//! the directory's type bits, so the walk costs one `readdir` per directory plus one `lstat`
//! per directory (to detect bind-mount duplicates), which is what a bare `find -xdev` pays too.
//!
//! The walk never follows symlinks, skips configured paths and filesystem types, honours
//! `max_depth` and exclude globs, and turns every unreadable directory into a scan error.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::host::OsEcosystem;
use super::{Findings, Root, ScanOptions, apk, dpkg, jvm, npm, python, rpm, runtimes};

/// Entries listed from one directory before the rest is skipped with an error; real
/// directories stay far below this, and it bounds what one hostile directory can cost.
const MAX_DIR_ENTRIES: usize = 1_000_000;

/// One unit of work.
#[derive(Debug)]
enum Job {
    /// Read the OS package databases (dpkg, rpm, apk).
    OsDatabases,
    /// List a directory (host path, reported path, depth below the root).
    Dir(PathBuf, String, usize),
    /// Read the distributions in a `site-packages`/`dist-packages` directory.
    SiteDir(PathBuf),
    /// Read a `.jar`/`.war`/`.ear`.
    Archive(PathBuf),
    /// Read the `package.json` of an installed npm module.
    PackageJson(PathBuf),
    /// Identify a Python interpreter binary.
    PythonBinary(PathBuf),
    /// Identify a Node.js binary.
    NodeBinary(PathBuf),
    /// A directory with a `release` file that may be a JDK/JRE home.
    JavaHome(PathBuf),
    /// A directory with a `pyvenv.cfg`.
    Venv(PathBuf),
}

/// What one worker produced.
#[derive(Debug, Default)]
struct WorkerOut {
    findings: Findings,
    python: python::Partial,
}

#[derive(Debug, Default)]
struct QueueState {
    jobs: Vec<Job>,
    /// Jobs taken and not yet finished; the walk is over when this is zero and `jobs` is empty.
    active: usize,
}

struct Shared<'a> {
    root: &'a Root,
    eco: &'a OsEcosystem,
    max_depth: usize,
    excludes: Option<GlobSet>,
    skip: HashSet<PathBuf>,
    seen_dirs: Mutex<HashSet<(u64, u64)>>,
    queue: Mutex<QueueState>,
    wake: Condvar,
}

/// Runs the whole scan below the root and returns the (unsorted) findings.
pub fn run(root: &Root, opts: &ScanOptions, eco: &OsEcosystem) -> Findings {
    let mut setup_errors = Findings::default();
    let excludes = build_excludes(&opts.exclude, &mut setup_errors);
    let mut skip: HashSet<PathBuf> = opts
        .skip_paths
        .iter()
        .map(|p| root.host_path(p))
        .filter(|p| p != root.host_dir())
        .collect();
    skip.extend(skipped_mounts(&opts.skip_fs_types, root.host_dir()));

    let shared = Shared {
        root,
        eco,
        max_depth: opts.max_depth,
        excludes,
        skip,
        seen_dirs: Mutex::new(HashSet::new()),
        queue: Mutex::new(QueueState {
            jobs: vec![
                Job::Dir(root.host_dir().to_path_buf(), "/".to_owned(), 0),
                Job::OsDatabases,
            ],
            active: 0,
        }),
        wake: Condvar::new(),
    };
    if let Ok(meta) = std::fs::metadata(root.host_dir()) {
        if let Ok(mut seen) = shared.seen_dirs.lock() {
            seen.insert((meta.dev(), meta.ino()));
        }
    } else {
        setup_errors.error(
            "walk",
            "/",
            format!("scan root {} is not readable", root.host_dir().display()),
        );
    }

    let threads = opts.threads.clamp(1, 64);
    let outs: Vec<WorkerOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(|| worker(&shared))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    let mut out = WorkerOut::default();
                    out.findings.error(
                        "walk",
                        "/",
                        "a scan worker panicked; results are incomplete",
                    );
                    out
                })
            })
            .collect()
    });

    let mut findings = setup_errors;
    let mut py = python::Partial::default();
    for out in outs {
        findings.merge(out.findings);
        py.merge(out.python);
    }
    python::finish(root, py, &mut findings);
    findings
}

fn build_excludes(patterns: &[String], errors: &mut Findings) -> Option<GlobSet> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        match Glob::new(p) {
            Ok(g) => {
                builder.add(g);
                // `/opt/app` should also exclude everything below it.
                if let Ok(g) = Glob::new(&format!("{}/**", p.trim_end_matches('/'))) {
                    builder.add(g);
                }
            }
            Err(e) => errors.error("walk", p, format!("invalid exclude pattern: {e}")),
        }
    }
    builder.build().ok()
}

/// Mount points (host paths) under the root whose filesystem type is skipped, from
/// `/proc/self/mountinfo`.
fn skipped_mounts(types: &[String], root: &Path) -> Vec<PathBuf> {
    let Ok(text) = super::read_text_capped(Path::new("/proc/self/mountinfo"), 16 * 1024 * 1024)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split(' ').nth(4).map(unescape_mountinfo);
        let fstype = right.split(' ').next();
        if let (Some(mp), Some(ty)) = (mount_point, fstype) {
            let mp = PathBuf::from(mp);
            if types.iter().any(|t| t == ty) && mp.starts_with(root) && mp != root {
                out.push(mp);
            }
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as three-digit octal.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn worker(shared: &Shared<'_>) -> WorkerOut {
    let mut out = WorkerOut::default();
    let mut batch: Vec<Job> = Vec::new();
    loop {
        let job = {
            let Ok(mut q) = shared.queue.lock() else {
                return out;
            };
            loop {
                if let Some(job) = q.jobs.pop() {
                    q.active += 1;
                    break Some(job);
                }
                if q.active == 0 {
                    break None;
                }
                q = match shared.wake.wait(q) {
                    Ok(q) => q,
                    Err(_) => return out,
                };
            }
        };
        let Some(job) = job else {
            shared.wake.notify_all();
            return out;
        };
        run_job(shared, job, &mut out, &mut batch);
        let Ok(mut q) = shared.queue.lock() else {
            return out;
        };
        q.active -= 1;
        let pushed = batch.len();
        q.jobs.append(&mut batch);
        let done = q.active == 0 && q.jobs.is_empty();
        drop(q);
        if done || pushed > 1 {
            shared.wake.notify_all();
        } else if pushed == 1 {
            shared.wake.notify_one();
        }
    }
}

fn run_job(shared: &Shared<'_>, job: Job, out: &mut WorkerOut, batch: &mut Vec<Job>) {
    let root = shared.root;
    match job {
        Job::OsDatabases => {
            dpkg::scan(root, shared.eco, &mut out.findings);
            rpm::scan(root, shared.eco, &mut out.findings);
            apk::scan(root, shared.eco, &mut out.findings);
        }
        Job::Dir(path, shown, depth) => list_dir(shared, &path, &shown, depth, out, batch),
        Job::SiteDir(path) => {
            python::scan_site_dir(root, &path, &mut out.python, &mut out.findings)
        }
        Job::Archive(path) => jvm::scan_archive(root, &path, &mut out.findings),
        Job::PackageJson(path) => npm::scan_package_json(root, &path, &mut out.findings),
        Job::PythonBinary(path) => {
            python::scan_interpreter(root, &path, &mut out.python, &mut out.findings)
        }
        Job::NodeBinary(path) => runtimes::scan_node(root, &path, &mut out.findings),
        Job::JavaHome(path) => runtimes::scan_java_home(root, &path, &mut out.findings),
        Job::Venv(path) => python::scan_venv(root, &path, &mut out.python, &mut out.findings),
    }
}

fn list_dir(
    shared: &Shared<'_>,
    dir: &Path,
    shown: &str,
    depth: usize,
    out: &mut WorkerOut,
    batch: &mut Vec<Job>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            out.findings
                .error("walk", shown, format!("cannot list directory: {e}"));
            return;
        }
    };
    let dir_name = dir.file_name().unwrap_or_default().as_bytes();
    let in_bin = dir_name == b"bin";
    let module_dir = npm::is_module_dir(dir);
    for (count, entry) in entries.enumerate() {
        if count >= MAX_DIR_ENTRIES {
            out.findings.error(
                "walk",
                shown,
                format!("more than {MAX_DIR_ENTRIES} entries; the rest were skipped"),
            );
            break;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.findings
                    .error("walk", shown, format!("cannot read directory entry: {e}"));
                continue;
            }
        };
        let Ok(ft) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        let name_b = name.as_bytes();
        if ft.is_dir() {
            if depth >= shared.max_depth {
                continue;
            }
            let path = entry.path();
            if shared.skip.contains(&path) {
                continue;
            }
            let child_shown = child_display(shown, &name);
            if excluded(shared, &child_shown) {
                continue;
            }
            // Bind mounts can show the same directory twice; the (device, inode) pair is its
            // real identity.
            match entry.metadata() {
                Ok(meta) => {
                    let fresh = shared
                        .seen_dirs
                        .lock()
                        .map(|mut s| s.insert((meta.dev(), meta.ino())))
                        .unwrap_or(true);
                    if !fresh {
                        continue;
                    }
                }
                Err(e) => {
                    out.findings
                        .error("walk", &child_shown, format!("cannot stat: {e}"));
                    continue;
                }
            }
            if name_b == b"site-packages" || name_b == b"dist-packages" {
                batch.push(Job::SiteDir(path.clone()));
            }
            batch.push(Job::Dir(path, child_shown, depth + 1));
        } else if ft.is_file() {
            let job = if jvm::is_archive_name(name_b) {
                Some(Job::Archive(entry.path()))
            } else if name_b == b"package.json" && module_dir {
                Some(Job::PackageJson(entry.path()))
            } else if name_b == b"release" {
                Some(Job::JavaHome(dir.to_path_buf()))
            } else if name_b == b"pyvenv.cfg" {
                Some(Job::Venv(dir.to_path_buf()))
            } else if in_bin && name_b == b"node" {
                Some(Job::NodeBinary(entry.path()))
            } else if in_bin && python::is_interpreter_name(name_b) {
                Some(Job::PythonBinary(entry.path()))
            } else {
                None
            };
            if let Some(job) = job {
                if shared.excludes.is_some() && excluded(shared, &child_display(shown, &name)) {
                    continue;
                }
                batch.push(job);
            }
        }
        // Symlinks are never followed: their targets are found where they really live, which
        // is also what deduplicates `/usr/share/java/foo.jar -> foo-1.2.jar`.
    }
}

fn child_display(parent: &str, name: &OsStr) -> String {
    let name = name.to_string_lossy();
    let mut s = String::with_capacity(parent.len() + 1 + name.len());
    s.push_str(parent);
    if !parent.ends_with('/') {
        s.push('/');
    }
    s.push_str(&name);
    s
}

fn excluded(shared: &Shared<'_>, shown: &str) -> bool {
    shared
        .excludes
        .as_ref()
        .is_some_and(|set| set.is_match(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn walk_honours_depth_excludes_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("a/b/c/node_modules/deep")).unwrap();
        std::fs::write(
            base.join("a/b/c/node_modules/deep/package.json"),
            r#"{"name":"deep","version":"1.0.0"}"#,
        )
        .unwrap();
        std::fs::create_dir_all(base.join("x/node_modules/shallow")).unwrap();
        std::fs::write(
            base.join("x/node_modules/shallow/package.json"),
            r#"{"name":"shallow","version":"2.0.0"}"#,
        )
        .unwrap();
        std::fs::create_dir_all(base.join("skipme/node_modules/hidden")).unwrap();
        std::fs::write(
            base.join("skipme/node_modules/hidden/package.json"),
            r#"{"name":"hidden","version":"3.0.0"}"#,
        )
        .unwrap();
        std::os::unix::fs::symlink(base.join("x"), base.join("link")).unwrap();
        let root = Root::new(base);
        let eco = super::super::host::os_ecosystem(&root);
        let opts = ScanOptions {
            root: base.to_path_buf(),
            max_depth: 3,
            exclude: vec!["/skipme".to_owned()],
            threads: 2,
            ..ScanOptions::default()
        };
        let mut f = run(&root, &opts, &eco);
        f.finish();
        let names: Vec<_> = f.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["shallow"]);
        assert_eq!(f.packages[0].install_path, "/x/node_modules/shallow");
    }
}
