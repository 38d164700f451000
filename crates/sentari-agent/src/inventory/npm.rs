//! npm packages: the `package.json` of every module installed under a `node_modules`
//! directory, global (`<prefix>/lib/node_modules`) or per project, scoped (`@scope/name`) and
//! nested (`node_modules/a/node_modules/b`).
//!
//! Only a module's own manifest counts (`node_modules/<name>/package.json` or
//! `node_modules/@scope/<name>/package.json`); the many other `package.json` files inside
//! published packages (sub-path exports, test fixtures) identify nothing installed.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sentari_proto::agent::Package;
use serde::Deserialize;

use super::{Findings, Root, purl_encode, read_capped};

/// The largest real manifests (with embedded READMEs in old npm versions) are a few hundred
/// KiB.
const PACKAGE_JSON_CAP: u64 = 4 * 1024 * 1024;

/// Whether `dir` is a module directory directly inside a `node_modules` (so its
/// `package.json` is the manifest of an installed module).
pub fn is_module_dir(dir: &Path) -> bool {
    fn name(p: Option<&Path>) -> Option<&[u8]> {
        p.and_then(Path::file_name).map(OsStr::as_bytes)
    }
    let Some(own) = name(Some(dir)) else {
        return false;
    };
    if own.starts_with(b".") {
        return false;
    }
    let parent = dir.parent();
    match name(parent) {
        Some(b"node_modules") => true,
        Some(scope) if scope.starts_with(b"@") => {
            name(parent.and_then(Path::parent)) == Some(b"node_modules")
        }
        _ => false,
    }
}

#[derive(Deserialize)]
struct Manifest {
    name: Option<String>,
    version: Option<String>,
}

/// Where an installed module belongs: (`env_type`, environment).
pub fn environment_of(module_dir: &str) -> (&'static str, String) {
    let top = match module_dir.find("/node_modules/") {
        Some(i) => &module_dir[..i],
        None => "",
    };
    match top.strip_suffix("/lib") {
        // `npm install -g` puts modules under `<prefix>/lib/node_modules`; the prefix is the
        // environment (`/usr`, `/usr/local`, `~/.nvm/versions/node/v20.11.1`).
        Some(prefix) => (
            "npm-global",
            if prefix.is_empty() {
                "/".to_owned()
            } else {
                prefix.to_owned()
            },
        ),
        None => (
            "npm-project",
            if top.is_empty() {
                "/".to_owned()
            } else {
                top.to_owned()
            },
        ),
    }
}

/// Reads one installed module's manifest.
pub fn scan_package_json(root: &Root, path: &Path, out: &mut Findings) {
    let shown = root.display(path);
    let module_dir = root.display(path.parent().unwrap_or(path));
    let bytes = match read_capped(path, PACKAGE_JSON_CAP) {
        Ok(b) => b,
        Err(e) => {
            out.error("npm", &shown, e.to_string());
            return;
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            out.error("npm", &shown, format!("invalid package.json: {e}"));
            return;
        }
    };
    // Placeholder directories (an interrupted install, a bundled stub) may lack either field;
    // npm itself ignores them, so there is nothing installed to report.
    let (Some(name), Some(version)) = (manifest.name, manifest.version) else {
        return;
    };
    let (name, version) = (name.trim().to_owned(), version.trim().to_owned());
    if name.is_empty() || version.is_empty() {
        return;
    }
    let purl = match name.split_once('/') {
        Some((scope, base)) if scope.starts_with('@') => format!(
            "pkg:npm/{}/{}@{}",
            purl_encode(scope),
            purl_encode(base),
            purl_encode(&version)
        ),
        _ => format!("pkg:npm/{}@{}", purl_encode(&name), purl_encode(&version)),
    };
    let (env_type, environment) = environment_of(&module_dir);
    out.packages.push(Package {
        ecosystem: "npm".to_owned(),
        name,
        version,
        source_name: None,
        source_version: None,
        arch: None,
        install_path: module_dir,
        env_type: env_type.to_owned(),
        environment: Some(environment),
        interpreter_version: None,
        purl: Some(purl),
        origin: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_dirs_are_direct_children_of_node_modules() {
        assert!(is_module_dir(Path::new("/p/node_modules/left-pad")));
        assert!(is_module_dir(Path::new("/p/node_modules/@types/node")));
        assert!(!is_module_dir(Path::new("/p/node_modules/left-pad/lib")));
        assert!(!is_module_dir(Path::new("/p/node_modules/.bin")));
        assert!(!is_module_dir(Path::new("/p/src/@types/node")));
    }

    #[test]
    fn environments() {
        assert_eq!(
            environment_of("/usr/lib/node_modules/npm/node_modules/abbrev"),
            ("npm-global", "/usr".to_owned())
        );
        assert_eq!(
            environment_of("/srv/app/node_modules/@babel/core"),
            ("npm-project", "/srv/app".to_owned())
        );
    }

    #[test]
    fn scoped_and_invalid_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("app/node_modules/@scope/pkg");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(
            m.join("package.json"),
            r#"{"name":"@scope/pkg","version":"1.0.0-beta+1"}"#,
        )
        .unwrap();
        let bad = dir.path().join("app/node_modules/bad");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("package.json"), "{not json").unwrap();
        let root = Root::new(dir.path());
        let mut f = Findings::default();
        scan_package_json(&root, &m.join("package.json"), &mut f);
        scan_package_json(&root, &bad.join("package.json"), &mut f);
        assert_eq!(f.packages.len(), 1);
        assert_eq!(
            f.packages[0].purl.as_deref(),
            Some("pkg:npm/%40scope/pkg@1.0.0-beta%2B1")
        );
        assert_eq!(f.packages[0].environment.as_deref(), Some("/app"));
        assert_eq!(f.errors.len(), 1);
        assert_eq!(f.errors[0].path, "/app/node_modules/bad/package.json");
    }
}
