//! Language runtimes other than Python (which lives with its environments in `python.rs`):
//! Node.js installations and JDK/JRE homes, as `{kind, version, path, vendor}`.
//!
//! Versions come from the installation's own files: a JDK's `release` file (`JAVA_VERSION`,
//! `IMPLEMENTOR`), Node's `include/node/node_version.h`, or, for a bare Node binary, the
//! download URL of its own sources compiled into it. Nothing is executed.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sentari_proto::agent::Runtime;

use super::{Findings, Root, read_text_capped};

/// `release` files and version headers are a few KiB.
const SMALL_CAP: u64 = 256 * 1024;
/// Node binaries are about 100 MiB; the search stops after this much.
const BINARY_SCAN_CAP: u64 = 256 * 1024 * 1024;
/// Read size of the binary search.
const CHUNK: usize = 1024 * 1024;
/// Bytes after a hit that the checker may look at (and overlap kept between chunks).
const TAIL: usize = 64;

/// Whether the file starts with the ELF magic (interpreter names are shared by shell-script
/// shims, which are not installations).
pub fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Searches the first `cap` bytes of a file, chunk by chunk, for any of `needles`; for each
/// hit `check` gets up to [`TAIL`] bytes after the needle and returns the value it recognises.
/// Returns the first recognised value with the needle that led to it.
pub fn search_file<T>(
    path: &Path,
    cap: u64,
    needles: &[Vec<u8>],
    check: impl Fn(&[u8]) -> Option<T>,
) -> Option<(Vec<u8>, T)> {
    let file = File::open(path).ok()?;
    let mut reader = file.take(cap);
    let finders: Vec<memchr::memmem::Finder<'_>> =
        needles.iter().map(memchr::memmem::Finder::new).collect();
    let longest = needles.iter().map(Vec::len).max().unwrap_or(0);
    let keep = longest + TAIL;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + keep);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut chunk).ok()?;
        let eof = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        // Hits that start in the overlap are searched again with the next chunk, when their
        // tail is complete.
        let limit = if eof {
            buf.len()
        } else {
            buf.len().saturating_sub(keep)
        };
        for (i, finder) in finders.iter().enumerate() {
            for at in finder.find_iter(&buf) {
                if at >= limit {
                    break;
                }
                let start = at + needles[i].len();
                let end = (start + TAIL).min(buf.len());
                if let Some(v) = check(&buf[start..end]) {
                    return Some((needles[i].clone(), v));
                }
            }
        }
        if eof {
            return None;
        }
        let drop_to = buf.len().saturating_sub(keep);
        buf.drain(..drop_to);
    }
}

/// Parses `KEY="value"` lines (a JDK `release` file).
pub fn parse_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

/// A directory holding a `release` file: a JDK or JRE home when it also has `bin/java`.
pub fn scan_java_home(root: &Root, dir: &Path, out: &mut Findings) {
    if !dir.join("bin/java").is_file() {
        return;
    }
    let shown = root.display(dir);
    let release = dir.join("release");
    let text = match read_text_capped(&release, SMALL_CAP) {
        Ok(t) => t,
        Err(e) => {
            out.error("runtimes", &root.display(&release), e.to_string());
            return;
        }
    };
    let fields = parse_release(&text);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let Some(version) = get("JAVA_VERSION") else {
        out.error(
            "runtimes",
            &root.display(&release),
            "release file has no JAVA_VERSION",
        );
        return;
    };
    let kind = if dir.join("bin/javac").is_file() {
        "jdk"
    } else {
        "jre"
    };
    out.runtimes.push(Runtime {
        kind: kind.to_owned(),
        version,
        path: shown,
        vendor: get("IMPLEMENTOR"),
    });
}

/// `20.11.1` from the `NODE_*_VERSION` defines of `node_version.h`.
pub fn parse_node_version_h(text: &str) -> Option<String> {
    let define = |name: &str| -> Option<u32> {
        text.lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some("#define") && it.next() == Some(name))
                .then(|| it.next()?.parse().ok())
                .flatten()
        })
    };
    Some(format!(
        "{}.{}.{}",
        define("NODE_MAJOR_VERSION")?,
        define("NODE_MINOR_VERSION")?,
        define("NODE_PATCH_VERSION")?
    ))
}

/// A `bin/node` binary: a Node.js installation.
pub fn scan_node(root: &Root, path: &Path, out: &mut Findings) {
    if !is_elf(path) {
        return;
    }
    let shown = root.display(path);
    let prefix = path.parent().and_then(Path::parent).unwrap_or(path);
    let header = prefix.join("include/node/node_version.h");
    let version = read_text_capped(&header, SMALL_CAP)
        .ok()
        .and_then(|t| parse_node_version_h(&t))
        .or_else(|| embedded_node_version(path));
    match version {
        Some(version) => out.runtimes.push(Runtime {
            kind: "node".to_owned(),
            version,
            path: shown,
            vendor: None,
        }),
        None => out.error(
            "runtimes",
            &shown,
            "cannot tell this Node.js binary's version",
        ),
    }
}

/// Node embeds the URL of its own source tarball (`…/node-v20.11.1.tar.gz`) for
/// `process.release`.
fn embedded_node_version(path: &Path) -> Option<String> {
    search_file(path, BINARY_SCAN_CAP, &[b"/node-v".to_vec()], |tail| {
        let end = tail
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))?;
        let version = std::str::from_utf8(&tail[..end])
            .ok()?
            .trim_end_matches('.');
        let rest = &tail[version.len()..];
        let parts = version.split('.').filter(|p| !p.is_empty()).count();
        (parts == 3 && (rest.starts_with(b".tar") || rest.starts_with(b"-headers")))
            .then(|| version.to_owned())
    })
    .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_file() {
        let f = parse_release(
            "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"21.0.5\"\nMODULES=\"java.base\"\n",
        );
        assert!(f.contains(&("JAVA_VERSION".to_owned(), "21.0.5".to_owned())));
        assert!(f.contains(&("IMPLEMENTOR".to_owned(), "Eclipse Adoptium".to_owned())));
    }

    #[test]
    fn node_header() {
        let h = "#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 11\n#define NODE_PATCH_VERSION 1\n";
        assert_eq!(parse_node_version_h(h).as_deref(), Some("20.11.1"));
    }

    #[test]
    fn search_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node");
        let mut bytes = vec![0x7f, b'E', b'L', b'F'];
        // Place the needle so it straddles the first chunk boundary.
        bytes.resize(CHUNK - 3 - 43, b'z');
        bytes.extend_from_slice(
            b"https://nodejs.org/download/release/v22.1.0/node-v22.1.0.tar.gz\0",
        );
        std::fs::write(&p, bytes).unwrap();
        assert_eq!(embedded_node_version(&p).as_deref(), Some("22.1.0"));
    }
}
