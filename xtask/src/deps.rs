//! The Debian packages that some tests need (a real browser, a real database server, a
//! container builder): found when present, installed with `apt-get` when missing and this is
//! a Debian machine where we are root, otherwise a clear error naming the packages to install.
//! `apt-get update` runs at most once per `cargo xtask` call.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A Debian package and how to tell that it is installed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Package {
    /// The Debian package name.
    pub name: &'static str,
    /// Programs, any of which shows the package is there (globs allowed in one path segment,
    /// e.g. `/usr/lib/postgresql/*/bin/initdb`).
    pub programs: &'static [&'static str],
}

pub(crate) const CHROMIUM: Package = Package { name: "chromium", programs: &["/usr/bin/chromium"] };

/// A font for the browser to draw text with (the report's screenshots).
pub(crate) const FONTS: Package =
    Package { name: "fonts-dejavu-core", programs: &["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"] };

/// A PostgreSQL server (initdb, pg_ctl, postgres, psql) for the store's PostgreSQL backend tests
/// (`sfconn_testkit::postgres::Cluster`).
pub(crate) const POSTGRESQL: Package =
    Package { name: "postgresql", programs: &["/usr/lib/postgresql/*/bin/initdb"] };

/// `openssl`, which makes the TLS test server's CA and certificate (the store's `sslmode` tests).
pub(crate) const OPENSSL: Package = Package { name: "openssl", programs: &["/usr/bin/openssl"] };

/// What `cargo xtask ci` needs: a browser for the HTML report, buildah for the container image,
/// PostgreSQL (and openssl for its TLS certificates) for the store's second backend.
pub(crate) const FOR_TESTS: &[Package] = &[CHROMIUM, FONTS, crate::image::BUILDAH, POSTGRESQL, OPENSSL];

/// The first program of `package` that exists, if any.
pub(crate) fn find(package: &Package) -> Option<PathBuf> {
    package.programs.iter().find_map(|pattern| expand(pattern))
}

/// Every package present afterwards, or an error that says which are missing and why they
/// could not be installed.
pub(crate) fn ensure(packages: &[Package]) -> Result<()> {
    let missing: Vec<&Package> = packages.iter().filter(|package| find(package).is_none()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|package| package.name).collect();
    if !Path::new("/usr/bin/apt-get").exists() || !is_root() {
        bail!(
            "the tests need these Debian packages, which are not installed: {}. Install them \
             (`sudo apt-get install {}`) and run again",
            names.join(", "),
            names.join(" ")
        );
    }
    eprintln!("xtask: installing Debian packages the tests need: {}", names.join(" "));
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    crate::run_step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&names)
        .env("DEBIAN_FRONTEND", "noninteractive");
    crate::run_step("apt-get install", install)?;
    for package in missing {
        find(package).with_context(|| {
            format!("`{}` was installed but none of {:?} exists", package.name, package.programs)
        })?;
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `pattern` itself when it has no `*`, else the first match of its one starred segment.
fn expand(pattern: &str) -> Option<PathBuf> {
    let Some(star) = pattern.find('*') else {
        return Path::new(pattern).exists().then(|| PathBuf::from(pattern));
    };
    let (dir, rest) = pattern[..star].rsplit_once('/')?;
    let (segment_tail, tail) = match pattern[star..].split_once('/') {
        Some((segment, tail)) => (segment, Some(tail)),
        None => (&pattern[star..], None),
    };
    let prefix = rest;
    let suffix = segment_tail.trim_start_matches('*');
    let mut entries: Vec<PathBuf> = std::fs::read_dir(if dir.is_empty() { "/" } else { dir })
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .map(|entry| match tail {
            Some(tail) => entry.path().join(tail),
            None => entry.path(),
        })
        .filter(|path| path.exists())
        .collect();
    entries.sort();
    entries.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_one_starred_segment_to_the_last_match() {
        let dir = tempfile::tempdir().unwrap();
        for version in ["14", "15"] {
            std::fs::create_dir_all(dir.path().join(version).join("bin")).unwrap();
            std::fs::write(dir.path().join(version).join("bin/initdb"), "").unwrap();
        }
        let pattern = format!("{}/*/bin/initdb", dir.path().display());
        let pattern: &'static str = Box::leak(pattern.into_boxed_str());
        assert_eq!(expand(pattern), Some(dir.path().join("15/bin/initdb")));
        assert_eq!(expand("/definitely/not/here/*/bin/x"), None);
    }
}
