//! `cargo xtask k8s`: validates the Kubernetes manifests of `deploy/kubernetes/`, offline.
//!
//! - A Python virtualenv in `target/k8s-venv` (made once, reused while its pins match) with
//!   pinned `kubernetes-validate` and `checkov` from PyPI, the only network use.
//! - `kubernetes-validate --strict` on every manifest (`recovery/` included) against the oldest Kubernetes the
//!   manifests support and the newest schemas the package bundles, and on the output of
//!   `kubectl kustomize` when kubectl is installed (else the plain files only).
//! - `xtask/k8s/check_fleet.py`: one Job index per `[orgs.NAME]`, secrets on read-only Secret
//!   mounts, the state directory on a claim.
//! - `checkov --framework kubernetes`, with its update check and its download of guidelines
//!   turned off. Findings are fixed in the manifests or waived there with a reason
//!   (`checkov.io/skip*` annotations); any other finding fails the step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use crate::{project_root, run_step};

/// The pinned tools; changing a pin reinstalls into the existing venv.
const REQUIREMENTS: &[&str] = &["kubernetes-validate==1.37.0", "checkov==3.3.30"];
/// The Kubernetes versions whose schemas the manifests must satisfy: the oldest they support
/// (`backoffLimitPerIndex` and `podFailurePolicy` GA) and the newest kubernetes-validate ships.
const KUBERNETES_VERSIONS: &[&str] = &["1.33.0", "1.37.0"];
/// Written into the venv after a successful install: the pins it holds.
const MARKER: &str = "sfconn-requirements.txt";

pub(crate) fn run(args: &[String]) -> Result<()> {
    if let Some(unknown) = args.first() {
        bail!("unknown option {unknown}; usage: cargo xtask k8s");
    }
    let venv = ensure_venv()?;
    let started = Instant::now();
    let dir = project_root().join("deploy/kubernetes");
    let manifests = manifests(&dir)?;

    let mut files = manifests.clone();
    match render(&dir)? {
        Some(rendered) => files.push(rendered),
        None => {
            eprintln!("xtask k8s: kubectl not found: validating the plain files, not `kubectl kustomize`");
        }
    }
    for version in KUBERNETES_VERSIONS {
        let mut validate = Command::new(venv.join("bin/kubernetes-validate"));
        validate.args(["--strict", "--quiet", "--kubernetes-version", version]).args(&files);
        run_step(&format!("kubernetes-validate {version}"), validate)?;
    }

    let mut fleet = Command::new(venv.join("bin/python"));
    fleet.arg(project_root().join("xtask/k8s/check_fleet.py")).arg(&dir);
    run_step("fleet consistency", fleet)?;

    let mut checkov = Command::new(venv.join("bin/checkov"));
    checkov
        .current_dir(project_root())
        .args(["-d", "deploy/kubernetes", "--framework", "kubernetes", "--quiet", "--compact"])
        // Offline: no guidelines or check mapping from Prisma Cloud, no PyPI version check.
        .arg("--skip-download")
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .env("BC_SKIP_MAPPING", "TRUE")
        .env_remove("BC_API_KEY")
        .env_remove("PRISMA_API_URL");
    run_step("checkov", checkov)?;

    eprintln!(
        "xtask k8s: {} manifests valid for Kubernetes {} and clean for checkov in {:.1} s",
        manifests.len(),
        KUBERNETES_VERSIONS.join(" and "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `target/k8s-venv` with the pinned tools, installed when missing or when the pins changed.
fn ensure_venv() -> Result<PathBuf> {
    let venv = project_root().join("target/k8s-venv");
    let wanted = REQUIREMENTS.join("\n") + "\n";
    let marker = venv.join(MARKER);
    let tools = ["bin/python", "bin/kubernetes-validate", "bin/checkov"];
    if std::fs::read_to_string(&marker).is_ok_and(|pins| pins == wanted)
        && tools.iter().all(|tool| venv.join(tool).exists())
    {
        return Ok(venv);
    }
    let started = Instant::now();
    if !venv.join("bin/python").exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        run_step("python3 -m venv", create).context(
            "the manifests are checked with Python tools: install python3 and its venv module \
             (Debian: `apt-get install python3-venv`)",
        )?;
    }
    let mut install = Command::new(venv.join("bin/python"));
    install.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]).args(REQUIREMENTS);
    run_step("pip install", install)?;
    for tool in tools {
        ensure!(venv.join(tool).exists(), "pip installed {REQUIREMENTS:?} but {tool} is missing");
    }
    std::fs::write(&marker, wanted).with_context(|| format!("cannot write {}", marker.display()))?;
    eprintln!(
        "xtask k8s: installed {} into {} in {:.1} s",
        REQUIREMENTS.join(" "),
        venv.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(venv)
}

/// Every manifest under `dir` (`*.yaml`, `*.yml`, subdirectories such as `recovery/`
/// included) but the kustomization, which is not a Kubernetes object, in path order.
fn manifests(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in
            std::fs::read_dir(&current).with_context(|| format!("cannot read {}", current.display()))?
        {
            let path = entry.with_context(|| format!("cannot read {}", current.display()))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if is_manifest(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    ensure!(!files.is_empty(), "no manifests in {}", dir.display());
    Ok(files)
}

fn is_manifest(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    yaml && !name.starts_with('.') && !name.starts_with("kustomization.")
}

/// `kubectl kustomize dir` into `target/k8s/rendered.yaml`, or `None` without kubectl.
fn render(dir: &Path) -> Result<Option<PathBuf>> {
    let found = Command::new("kubectl").args(["version", "--client"]).output();
    if !found.is_ok_and(|output| output.status.success()) {
        return Ok(None);
    }
    eprintln!("xtask: kustomize: kubectl kustomize {}", dir.display());
    let output =
        Command::new("kubectl").arg("kustomize").arg(dir).output().context("cannot run kubectl kustomize")?;
    ensure!(
        output.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let rendered = project_root().join("target/k8s/rendered.yaml");
    if let Some(parent) = rendered.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&rendered, &output.stdout)
        .with_context(|| format!("cannot write {}", rendered.display()))?;
    Ok(Some(rendered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kustomization_and_hidden_files_are_not_manifests() {
        assert!(is_manifest(Path::new("deploy/kubernetes/cronjob.yaml")));
        assert!(is_manifest(Path::new("deploy/kubernetes/pvc.yml")));
        assert!(!is_manifest(Path::new("deploy/kubernetes/kustomization.yaml")));
        assert!(!is_manifest(Path::new("deploy/kubernetes/.checkov.yaml")));
        assert!(!is_manifest(Path::new("deploy/kubernetes/README.md")));
    }

    #[test]
    fn every_shipped_manifest_is_listed() {
        let files = manifests(&project_root().join("deploy/kubernetes")).unwrap();
        let names: Vec<_> = files.iter().filter_map(|f| f.file_name()?.to_str()).collect();
        for name in ["cronjob.yaml", "configmap.yaml", "token-reader.yaml"] {
            assert!(names.contains(&name), "{name} is not in {names:?}");
        }
    }
}
