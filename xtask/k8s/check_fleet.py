"""Checks that deploy/kubernetes agrees with itself where neither kubernetes-validate nor
checkov looks: the Indexed Job has one index per [orgs.NAME] table of the ConfigMap's
sfconn.toml, every secret file the config names is on a read-only Secret mount, every org
has its own refresh-token file, the state directory is on a PersistentVolumeClaim, and the
shared PostgreSQL store is wired whole: its URL file on a read-only Secret mount, `--store` in
the arguments, and a NetworkPolicy egress rule for the database's port.

Run by `cargo xtask k8s` with the venv's Python (PyYAML comes with kubernetes-validate);
argument: the deploy/kubernetes directory. Exit 1 with every problem listed.
"""

import posixpath
import sys
import tomllib

import yaml


def load(directory, name):
    with open(posixpath.join(directory, name), encoding="utf-8") as file:
        return [doc for doc in yaml.safe_load_all(file) if doc]


def under(path, mount):
    return path == mount or path.startswith(mount.rstrip("/") + "/")


def main(directory):
    problems = []
    (configmap,) = load(directory, "configmap.yaml")
    (cronjob,) = load(directory, "cronjob.yaml")
    config = tomllib.loads(configmap["data"]["sfconn.toml"])
    orgs = sorted(config.get("orgs", {}))
    if not orgs:
        problems.append("sfconn.toml in configmap.yaml declares no [orgs.NAME] table")

    job = cronjob["spec"]["jobTemplate"]["spec"]
    if job.get("completionMode") != "Indexed":
        problems.append("the CronJob's Job is not `completionMode: Indexed`")
    if job.get("completions") != len(orgs):
        problems.append(
            f"completions is {job.get('completions')} but sfconn.toml declares {len(orgs)} orgs "
            f"({', '.join(orgs)}): one index per org"
        )
    if cronjob["spec"].get("concurrencyPolicy") != "Forbid":
        problems.append("concurrencyPolicy must be Forbid: two runs would refresh the same tokens")

    pod = job["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "sfconn"]
    args = container.get("args", [])
    if "--org-index" not in args or args[args.index("--org-index") + 1] != "$(JOB_COMPLETION_INDEX)":
        problems.append("the container's args do not pass `--org-index $(JOB_COMPLETION_INDEX)`")

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = container.get("volumeMounts", [])
    env = {e["name"]: e.get("value") for e in container.get("env", [])}

    def mount_of(path):
        found = [m for m in mounts if under(path, m["mountPath"])]
        return max(found, key=lambda m: len(m["mountPath"]), default=None)

    config_path = env.get("SFCONN_CONFIG")
    mount = mount_of(config_path or "")
    if not config_path or not mount or "configMap" not in volumes[mount["name"]]:
        problems.append(f"SFCONN_CONFIG ({config_path}) is not on the ConfigMap's mount")
    elif volumes[mount["name"]]["configMap"]["name"] != configmap["metadata"]["name"]:
        problems.append(f"SFCONN_CONFIG's mount is not the ConfigMap {configmap['metadata']['name']}")
    elif posixpath.basename(config_path) not in configmap["data"]:
        problems.append(f"the ConfigMap has no key {posixpath.basename(config_path)}")

    state = env.get("XDG_STATE_HOME")
    mount = mount_of(state or "")
    if not state or not mount or "persistentVolumeClaim" not in volumes[mount["name"]]:
        problems.append(
            f"XDG_STATE_HOME ({state}) is not on a PersistentVolumeClaim: a rotated refresh "
            "token kept there would be lost with the pod"
        )

    store_url_file = env.get("SFCONN_STORE__URL_FILE")
    if store_url_file:
        mount = mount_of(store_url_file)
        if mount is None or "secret" not in volumes[mount["name"]] or not mount.get("readOnly"):
            problems.append(
                f"SFCONN_STORE__URL_FILE ({store_url_file}) is not on a read-only Secret mount: "
                "the URL holds the database password"
            )
        if "--store" not in args:
            problems.append("SFCONN_STORE__URL_FILE is set but the args lack --store: nothing is stored")
        (policy,) = load(directory, "networkpolicy.yaml")
        ports = [
            port.get("port")
            for rule in policy["spec"].get("egress", [])
            for port in rule.get("ports", [])
            if port.get("protocol", "TCP") == "TCP"
        ]
        if 5432 not in ports:
            problems.append("networkpolicy.yaml has no egress rule for TCP 5432: pods cannot reach the store")
    elif "--store" in args:
        problems.append("the args pass --store but no SFCONN_STORE__URL_FILE: it would write an SQLite file in the pod")

    token_files = {}
    for org in orgs:
        table = config["orgs"][org]
        for key in ("client_secret_file", "refresh_token_file"):
            path = table.get(key, config.get(key))
            if path is None:
                problems.append(f"org {org}: no {key}")
                continue
            mount = mount_of(path)
            if mount is None or "secret" not in volumes[mount["name"]] or not mount.get("readOnly"):
                problems.append(f"org {org}: {key} {path} is not on a read-only Secret mount")
            if key == "refresh_token_file":
                if path in token_files:
                    problems.append(f"orgs {token_files[path]} and {org} share the refresh token file {path}")
                token_files[path] = org

    if problems:
        for problem in problems:
            print(f"deploy/kubernetes: {problem}", file=sys.stderr)
        return 1
    listing = ", ".join(f"{index} = {org}" for index, org in enumerate(orgs))
    print(f"deploy/kubernetes: {len(orgs)} orgs ({listing}), completions {job['completions']}, "
          "secrets on read-only Secret mounts, state on a claim"
          + (", the store URL from a Secret" if store_url_file else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
