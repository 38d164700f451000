//! Facts about the scanned host: name, machine id, OS release, kernel, architecture and what
//! kind of machine it is (bare metal, VM, container, Kubernetes).
//!
//! For the running host (`/` as scan root) the kernel's own interfaces (`/proc`, `/sys`) answer;
//! for any other root (a disk image, an unpacked container) only files inside the root are
//! read, since the running kernel says nothing about them.

use std::path::Path;

use sentari_core::ecosystem::{OsRelease, os_package_ecosystem};
use sentari_proto::agent::{HostInfo, OsReleaseInfo};

use super::{Root, read_text_capped};

/// Small text files such as `os-release` and `machine-id` never legitimately exceed this.
const SMALL_FILE_CAP: u64 = 64 * 1024;

/// The OS-package ecosystem of the scanned root, as the OS package sources need it.
#[derive(Debug, Clone)]
pub struct OsEcosystem {
    /// OSV ecosystem string (`Debian:12`), or a descriptive fallback for unsupported systems.
    pub ecosystem: String,
    /// The purl namespace of OS packages (`debian`, `ubuntu`, `almalinux`).
    pub purl_namespace: String,
    /// The purl `distro` qualifier (`debian-12`).
    pub purl_distro: Option<String>,
    /// Why OSV cannot match this OS, when it cannot.
    pub unsupported: Option<String>,
    /// The os-release file that was read (reported with the problem above).
    pub source_path: String,
}

/// Reads `etc/os-release` (or `usr/lib/os-release`, its documented fallback) inside the root.
pub fn read_os_release(root: &Root) -> (OsRelease, String) {
    for inside in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(host) = root.resolve(inside)
            && let Ok(text) = read_text_capped(&host, SMALL_FILE_CAP)
        {
            return (OsRelease::parse(&text), inside.to_owned());
        }
    }
    (OsRelease::parse(""), "/etc/os-release".to_owned())
}

/// Works out the ecosystem string OS packages get.
pub fn os_ecosystem(root: &Root) -> OsEcosystem {
    let (os, path) = read_os_release(root);
    let purl_distro = os.version_id.as_ref().map(|v| format!("{}-{v}", os.id));
    match os_package_ecosystem(&os) {
        Ok(eco) => OsEcosystem {
            ecosystem: eco.to_string(),
            purl_namespace: os.id.clone(),
            purl_distro,
            unsupported: None,
            source_path: path,
        },
        Err(why) => {
            // Keep the packages usable for inventory and policy even when OSV cannot match them:
            // name the ecosystem after the distribution and its release.
            let ecosystem = match &os.version_id {
                Some(v) => format!("{}:{v}", os.id),
                None => os.id.clone(),
            };
            OsEcosystem {
                ecosystem,
                purl_namespace: os.id.clone(),
                purl_distro,
                unsupported: Some(why.to_string()),
                source_path: path,
            }
        }
    }
}

/// Collects the host facts of the root.
pub fn collect(root: &Root) -> HostInfo {
    let (os, _) = read_os_release(root);
    let read = |inside: &str| -> Option<String> {
        let host = root.resolve(inside)?;
        read_text_capped(&host, SMALL_FILE_CAP)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let os_release = OsReleaseInfo {
        id: os.id.clone(),
        version_id: os.version_id.clone(),
        version_codename: os.version_codename.clone(),
        pretty_name: os.pretty_name.clone(),
    };
    let machine_id = read("/etc/machine-id")
        .or_else(|| read("/var/lib/dbus/machine-id"))
        .unwrap_or_default();
    if root.is_host() {
        HostInfo {
            hostname: read_host_file("/proc/sys/kernel/hostname")
                .or_else(|| read("/etc/hostname"))
                .unwrap_or_default(),
            machine_id,
            os_release,
            kernel: read_host_file("/proc/sys/kernel/osrelease").unwrap_or_default(),
            arch: std::env::consts::ARCH.to_owned(),
            host_kind: detect_host_kind().to_owned(),
        }
    } else {
        HostInfo {
            hostname: read("/etc/hostname").unwrap_or_default(),
            machine_id,
            os_release,
            kernel: String::new(),
            arch: image_arch(root).unwrap_or_default(),
            host_kind: "unknown".to_owned(),
        }
    }
}

/// Reads a small file of the running host.
fn read_host_file(path: &str) -> Option<String> {
    read_text_capped(Path::new(path), SMALL_FILE_CAP)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The architecture of a root that is not the running host, from what its package manager
/// recorded; dpkg and apk name it their own way, so it is mapped to the kernel's names.
fn image_arch(root: &Root) -> Option<String> {
    let dpkg = root
        .resolve("/var/lib/dpkg/arch")
        .and_then(|p| read_text_capped(&p, SMALL_FILE_CAP).ok())
        .and_then(|s| s.lines().next().map(|l| l.trim().to_owned()));
    let apk = root
        .resolve("/etc/apk/arch")
        .and_then(|p| read_text_capped(&p, SMALL_FILE_CAP).ok())
        .map(|s| s.trim().to_owned());
    let raw = dpkg.or(apk).filter(|s| !s.is_empty())?;
    Some(
        match raw.as_str() {
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            "i386" => "x86",
            "armhf" => "arm",
            other => other,
        }
        .to_owned(),
    )
}

/// Tells bare metal, VMs, containers and Kubernetes pods apart from what the running kernel
/// and container runtimes leave behind.
fn detect_host_kind() -> &'static str {
    let in_k8s = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        || Path::new("/var/run/secrets/kubernetes.io/serviceaccount").exists();
    let cgroup = read_host_file("/proc/1/cgroup").unwrap_or_default();
    if in_k8s || cgroup.contains("kubepods") {
        return "kubernetes";
    }
    let environ = std::fs::read("/proc/1/environ").unwrap_or_default();
    let container_env = environ
        .split(|b| *b == 0)
        .any(|kv| kv.starts_with(b"container="));
    if Path::new("/.dockerenv").exists()
        || Path::new("/run/.containerenv").exists()
        || container_env
        || ["docker", "containerd", "lxc", "libpod"]
            .iter()
            .any(|m| cgroup.contains(m))
    {
        return "container";
    }
    let dmi = ["sys_vendor", "product_name", "board_vendor", "bios_vendor"]
        .iter()
        .filter_map(|f| read_host_file(&format!("/sys/class/dmi/id/{f}")))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    const VM_MARKERS: &[&str] = &[
        "qemu",
        "kvm",
        "vmware",
        "virtualbox",
        "xen",
        "microsoft corporation",
        "amazon ec2",
        "google compute engine",
        "bochs",
        "parallels",
        "openstack",
        "digitalocean",
        "hetzner",
        "cloud hypervisor",
        "firecracker",
    ];
    if VM_MARKERS.iter().any(|m| dmi.contains(m)) {
        return "vm";
    }
    let cpuinfo = read_text_capped(Path::new("/proc/cpuinfo"), 4 * 1024 * 1024).unwrap_or_default();
    if cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "hypervisor"))
    {
        return "vm";
    }
    if dmi.is_empty() {
        "unknown"
    } else {
        "bare_metal"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_roots_read_only_files_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap();
        std::fs::write(
            dir.path().join("etc/os-release"),
            "ID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nPRETTY_NAME=\"Ubuntu 24.04 LTS\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/hostname"), "img\n").unwrap();
        std::fs::write(dir.path().join("etc/machine-id"), "abc123\n").unwrap();
        std::fs::write(dir.path().join("var/lib/dpkg/arch"), "arm64\n").unwrap();
        let root = Root::new(dir.path());
        let host = collect(&root);
        assert_eq!(host.hostname, "img");
        assert_eq!(host.machine_id, "abc123");
        assert_eq!(host.arch, "aarch64");
        assert_eq!(host.kernel, "");
        assert_eq!(host.host_kind, "unknown");
        assert_eq!(host.os_release.version_id.as_deref(), Some("24.04"));
        let eco = os_ecosystem(&root);
        assert_eq!(eco.ecosystem, "Ubuntu:24.04:LTS");
        assert_eq!(eco.purl_distro.as_deref(), Some("ubuntu-24.04"));
    }

    #[test]
    fn unsupported_systems_keep_a_descriptive_ecosystem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/os-release"),
            "ID=fedora\nVERSION_ID=40\n",
        )
        .unwrap();
        let eco = os_ecosystem(&Root::new(dir.path()));
        assert_eq!(eco.ecosystem, "fedora:40");
        assert!(eco.unsupported.is_some());
    }

    #[test]
    fn the_running_host_reports_kernel_facts() {
        let host = collect(&Root::new(Path::new("/")));
        assert!(!host.kernel.is_empty());
        assert!(!host.hostname.is_empty());
        assert!(
            ["bare_metal", "vm", "container", "kubernetes", "unknown"]
                .contains(&host.host_kind.as_str())
        );
    }
}
