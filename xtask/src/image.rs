//! `cargo xtask image [--release] [--check]`: builds the runtime image of
//! `deploy/container/Containerfile` with buildah, from a root filesystem staged here (the
//! `sfconn` binary, the C runtime libraries it links, CA certificates, a non-root user), so
//! nothing is pulled from a registry. `--check` then runs the image against the simulated org
//! on loopback, with the secrets mounted read-only as files, and checks the snapshot it wrote
//! and the image's own promises (non-root user, no shell, entrypoint, labels).
//!
//! buildah runs with `--storage-driver vfs --isolation chroot` and keeps its storage under
//! `target/image/`, so the build needs root but no daemon, no runtime and no network.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail, ensure};
use sfconn_testkit::{OrgSpec, SimulatedOrg};

use crate::deps::{self, Package};
use crate::{cargo, project_root, run_step};

pub(crate) const BUILDAH: Package = Package { name: "buildah", programs: &["/usr/bin/buildah"] };

/// The image's name in buildah's local storage.
const IMAGE: &str = "localhost/sfconn";
/// The non-root user (and group) the image runs as.
const USER_ID: u32 = 65532;
/// The CA bundle copied into the image.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let release = args.iter().any(|arg| arg == "--release");
    let check = args.iter().any(|arg| arg == "--check");
    if let Some(unknown) = args.iter().find(|arg| !matches!(arg.as_str(), "--release" | "--check")) {
        bail!("unknown option {unknown}; usage: cargo xtask image [--release] [--check]");
    }
    deps::ensure(&[BUILDAH])?;
    let image = build(release)?;
    if check {
        check_image(&image)?;
    }
    Ok(())
}

/// Builds the binary and the image; returns the image's tag.
fn build(release: bool) -> Result<String> {
    let mut build = cargo();
    build.args(["build", "--package", "sfconn-cli", "--bin", "sfconn"]);
    if release {
        build.arg("--release");
    }
    run_step("build sfconn", build)?;
    let binary = project_root().join(if release { "target/release/sfconn" } else { "target/debug/sfconn" });

    let work = image_dir();
    let context = work.join("context");
    if context.exists() {
        std::fs::remove_dir_all(&context).with_context(|| format!("cannot clear {}", context.display()))?;
    }
    stage_rootfs(&binary, &context.join("rootfs"))?;
    let containerfile = project_root().join("deploy/container/Containerfile");
    std::fs::copy(&containerfile, context.join("Containerfile"))
        .with_context(|| format!("cannot copy {}", containerfile.display()))?;

    let version = env!("CARGO_PKG_VERSION");
    let tag = format!("{IMAGE}:{version}");
    let revision = git_revision();
    let created = output_text(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]))?;
    let mut bud = buildah();
    bud.args(["bud", "--isolation", "chroot", "--layers=false", "--tag", &tag])
        .arg(format!("--build-arg=VERSION={version}"))
        .arg(format!("--build-arg=REVISION={revision}"))
        .arg(format!("--build-arg=CREATED={created}"))
        .arg("--file")
        .arg(context.join("Containerfile"))
        .arg(&context);
    run_step("buildah bud", bud)?;
    eprintln!("xtask: image {tag} built (buildah storage in {})", work.join("storage").display());
    Ok(tag)
}

/// `target/image/`: the staged context and buildah's own storage.
fn image_dir() -> PathBuf {
    project_root().join("target/image")
}

/// buildah with the project's storage and the driver that works without privileges beyond root.
fn buildah() -> Command {
    let work = image_dir();
    let mut command = Command::new("buildah");
    command
        .arg("--root")
        .arg(work.join("storage"))
        .arg("--runroot")
        .arg(work.join("run"))
        .args(["--storage-driver", "vfs"]);
    command
}

/// Lays out the image's whole file system: the binary, every library `ldd` lists for it (at
/// the same paths, so the dynamic loader finds them), the CA bundle, `/etc/passwd` and
/// `/etc/group` naming the non-root user, its home and a `/tmp`.
fn stage_rootfs(binary: &Path, rootfs: &Path) -> Result<()> {
    copy_into(rootfs, binary, Path::new("/usr/local/bin/sfconn"))?;
    let listing = output_text(Command::new("ldd").arg(binary))?;
    for library in linked_libraries(&listing) {
        copy_into(rootfs, &library, &library)?;
    }
    copy_into(rootfs, Path::new(CA_BUNDLE), Path::new(CA_BUNDLE))?;
    write_file(
        &rootfs.join("etc/passwd"),
        &format!("sfconn:x:{USER_ID}:{USER_ID}:sfconn:/var/lib/sfconn:/nonexistent\n"),
    )?;
    write_file(&rootfs.join("etc/group"), &format!("sfconn:x:{USER_ID}:\n"))?;
    for dir in ["var/lib/sfconn", "tmp"] {
        std::fs::create_dir_all(rootfs.join(dir)).with_context(|| format!("cannot create {dir}"))?;
    }
    let status = Command::new("chown")
        .arg(format!("{USER_ID}:{USER_ID}"))
        .arg(rootfs.join("var/lib/sfconn"))
        .status()
        .context("cannot run chown")?;
    ensure!(status.success(), "chown of the home directory failed ({status})");
    let status =
        Command::new("chmod").arg("1777").arg(rootfs.join("tmp")).status().context("cannot run chmod")?;
    ensure!(status.success(), "chmod of /tmp failed ({status})");
    Ok(())
}

/// The absolute paths in `ldd`'s listing (`libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`
/// and the loader's own `/lib64/ld-linux-x86-64.so.2 (0x…)`); the vDSO has none.
fn linked_libraries(listing: &str) -> Vec<PathBuf> {
    listing
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, target)) => target.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn copy_into(rootfs: &Path, source: &Path, inside: &Path) -> Result<()> {
    let target = rootfs.join(inside.strip_prefix("/").unwrap_or(inside));
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // `fs::copy` follows symbolic links, so the image gets the library itself.
    std::fs::copy(source, &target)
        .with_context(|| format!("cannot copy {} into the image", source.display()))?;
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn git_revision() -> String {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(project_root())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn output_text(command: &mut Command) -> Result<String> {
    let output = command.output().with_context(|| format!("cannot run {command:?}"))?;
    ensure!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs the image as a user would in a scheduled job: secrets as read-only files, output on a
/// mounted directory, settings from `SFCONN_*` variables, against the simulated org.
fn check_image(image: &str) -> Result<()> {
    let config = output_text(buildah().args(["inspect", "--type", "image", image]))?;
    let config: serde_json::Value = serde_json::from_str(&config).context("buildah inspect is not JSON")?;
    let oci = &config["OCIv1"]["config"];
    ensure!(
        oci["User"] == format!("{USER_ID}:{USER_ID}"),
        "the image must run as {USER_ID}, not {}",
        oci["User"]
    );
    ensure!(oci["Entrypoint"] == serde_json::json!(["sfconn"]), "entrypoint is {}", oci["Entrypoint"]);
    for label in ["title", "version", "revision", "created", "licenses"] {
        let key = format!("org.opencontainers.image.{label}");
        ensure!(oci["Labels"][&key].is_string(), "label {key} is missing");
    }

    let work = image_dir().join("check");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("cannot clear {}", work.display()))?;
    }
    let secrets = work.join("secrets");
    let out = work.join("out");
    std::fs::create_dir_all(&secrets).context("cannot create the secrets directory")?;
    std::fs::create_dir_all(&out).context("cannot create the output directory")?;
    write_file(&secrets.join("client-secret"), SimulatedOrg::CLIENT_SECRET)?;
    write_file(&secrets.join("refresh-token"), SimulatedOrg::REFRESH_TOKEN)?;
    let status = Command::new("chown").arg(format!("{USER_ID}:{USER_ID}")).arg(&out).status()?;
    ensure!(status.success(), "chown of the output directory failed");

    let container = format!("sfconn-check-{}", std::process::id());
    run_step("buildah from", {
        let mut from = buildah();
        from.args(["from", "--name", &container, image]);
        from
    })?;
    let result = run_in_container(&container, &secrets, &out);
    let mut remove = buildah();
    remove.args(["rm", &container]);
    let removed = remove.output();
    let ran = result?;
    removed.context("cannot remove the check container")?;
    eprintln!("xtask: image check passed: {ran}");
    Ok(())
}

fn run_in_container(container: &str, secrets: &Path, out: &Path) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let org = runtime.block_on(SimulatedOrg::start(OrgSpec::small()));

    // No shell: the only program in the image is sfconn.
    let shell = run_container(container, &[], &[], &["/bin/sh", "-c", "true"])?;
    ensure!(!shell.status.success(), "the image has a shell (/bin/sh ran)");

    let mut env = vec![
        format!("SFCONN_CLIENT_ID={}", SimulatedOrg::CLIENT_ID),
        format!("SFCONN_LOGIN_URL={}", org.login_url()),
        "SFCONN_CLIENT_SECRET_FILE=/run/secrets/sfconn/client-secret".to_owned(),
        "SFCONN_REFRESH_TOKEN_FILE=/run/secrets/sfconn/refresh-token".to_owned(),
    ];
    env.sort();
    let mounts = [format!("{}:/run/secrets/sfconn:ro", secrets.display()), format!("{}:/out", out.display())];
    let collect = run_container(
        container,
        &mounts,
        &env,
        &["sfconn", "collect", "--no-progress", "-o", "/out/snapshot.json"],
    )?;
    ensure!(
        collect.status.success(),
        "sfconn collect in the image failed ({}): {}",
        collect.status,
        String::from_utf8_lossy(&collect.stderr)
    );
    let text = std::fs::read_to_string(out.join("snapshot.json")).context("the image wrote no snapshot")?;
    let snapshot: serde_json::Value =
        serde_json::from_str(&text).context("the image's snapshot is not JSON")?;
    let users = snapshot["users"].as_array().map_or(0, Vec::len);
    ensure!(
        users == org.spec().users,
        "the image's snapshot has {users} users, the org {}",
        org.spec().users
    );
    ensure!(
        snapshot["organization"]["name"] == org.spec().org_name.as_str(),
        "the snapshot names the organization {}",
        snapshot["organization"]["name"]
    );
    Ok(format!(
        "collected {users} users of \"{}\" as user {USER_ID} with read-only secret files",
        org.spec().org_name
    ))
}

/// `buildah run` of `argv` in `container`, with `HOST:CONTAINER[:ro]` mounts and `NAME=VALUE`
/// variables.
fn run_container(container: &str, mounts: &[String], env: &[String], argv: &[&str]) -> Result<Output> {
    let mut run = buildah();
    run.args(["run", "--isolation", "chroot"]);
    for mount in mounts {
        run.args(["--volume", mount]);
    }
    for variable in env {
        run.args(["--env", variable]);
    }
    run.arg(container).arg("--").args(argv);
    run.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    run.output().with_context(|| format!("cannot run buildah run {argv:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_listing_gives_every_absolute_path() {
        let listing = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                       \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f71)\n\
                       \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f71)\n\
                       \t/lib64/ld-linux-x86-64.so.2 (0x00007f71)\n";
        assert_eq!(
            linked_libraries(listing),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }
}
