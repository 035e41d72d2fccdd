//! Enforces the hexagon's dependency direction (ADR 0002): domain ← application ← adapters ←
//! bootstrap, and no drivers (database, HTTP, Kafka, Redis, SMTP clients) in the core.
//!
//! The rules are checked against the dependency graph Cargo resolves (`cargo metadata`), not
//! against the text of the manifests, so a forbidden crate pulled in through another crate is
//! caught too, with the path that pulled it in. Only normal dependencies count: dev- and
//! build-dependencies never reach the shipped code. The graph is read twice, once with the
//! features the workspace enables by default and once with `--all-features`, so a feature flag
//! cannot smuggle a driver into the core either.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::OnceLock;

use cargo_metadata::{CargoOpt, DependencyKind, Metadata, MetadataCommand};

const DOMAIN: &str = "hub-domain";
const APPLICATION: &str = "hub-application";
const ADAPTER_IN: &str = "hub-adapter-in";
const ADAPTER_OUT: &str = "hub-adapter-out";
const BOOTSTRAP: &str = "notification-hub";
const E2E_TESTS: &str = "e2e-tests";
const LOAD_DRIVER: &str = "hub-load";

/// Every workspace crate with the workspace crates it may depend on. A crate missing here fails
/// `every_workspace_crate_has_a_place_in_the_hexagon`, so new crates must pick a layer.
const LAYERS: &[(&str, &[&str])] = &[
    (DOMAIN, &[]),
    (APPLICATION, &[DOMAIN]),
    (ADAPTER_IN, &[DOMAIN, APPLICATION]),
    (ADAPTER_OUT, &[DOMAIN, APPLICATION]),
    (BOOTSTRAP, &[DOMAIN, APPLICATION, ADAPTER_IN, ADAPTER_OUT]),
    // Black-box tests may drive anything; nothing may depend on them (the lists above).
    (E2E_TESTS, &[DOMAIN, APPLICATION, ADAPTER_IN, ADAPTER_OUT, BOOTSTRAP]),
    // The load driver talks to the hub over HTTP only, like any caller.
    (LOAD_DRIVER, &[]),
];

/// Drivers: crates that talk to a database, a broker, a cache, the network or a mail server.
const DRIVERS: &[&str] = &["sqlx", "axum", "rdkafka", "redis", "reqwest", "hyper", "tower", "lettre"];

/// The domain has no I/O and no async runtime at all (ADR 0002, ADR 0004).
const FORBIDDEN_IN_DOMAIN: &[&str] =
    &["tokio", "sqlx", "axum", "rdkafka", "redis", "reqwest", "hyper", "tower", "lettre"];

/// Trace export (ADR 0026) is wiring: OpenTelemetry is seen by bootstrap only; the HTTP adapter
/// reaches it through its `TraceExport` trait. `opentelemetry` covers `opentelemetry-otlp`…
const TRACE_EXPORT: &[&str] = &["opentelemetry", "opentelemetry_sdk", "tracing-opentelemetry"];

/// A dependency graph of packages, reduced to what the rules need.
#[derive(Debug, Default)]
struct Graph {
    /// Package id → package name.
    names: HashMap<String, String>,
    /// Package id → ids of its normal dependencies.
    edges: HashMap<String, Vec<String>>,
    /// Workspace crate name → package id.
    members: BTreeMap<String, String>,
}

impl Graph {
    fn from_metadata(metadata: &Metadata) -> Self {
        let mut graph = Graph::default();
        for package in &metadata.packages {
            graph.names.insert(package.id.repr.clone(), package.name.to_string());
        }
        for id in &metadata.workspace_members {
            graph.members.insert(graph.names[&id.repr].clone(), id.repr.clone());
        }
        let resolve = metadata.resolve.as_ref().expect("cargo metadata was run with dependencies resolved");
        for node in &resolve.nodes {
            let normal = node
                .deps
                .iter()
                // An empty list comes from Cargo versions that predate dependency kinds, where
                // every listed edge is normal.
                .filter(|dep| {
                    dep.dep_kinds.is_empty()
                        || dep.dep_kinds.iter().any(|info| info.kind == DependencyKind::Normal)
                })
                .map(|dep| dep.pkg.repr.clone())
                .collect();
            graph.edges.insert(node.id.repr.clone(), normal);
        }
        graph
    }

    /// Every package `crate_name` reaches through normal dependencies, each with the shortest
    /// path of package names that leads to it (starting with `crate_name`).
    fn reachable_from(&self, crate_name: &str) -> Vec<Vec<String>> {
        let start = &self.members[crate_name];
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([start.as_str()]);
        let mut order = Vec::new();
        while let Some(id) = queue.pop_front() {
            for dep in self.edges.get(id).into_iter().flatten() {
                let dep = dep.as_str();
                if dep != start && !parent.contains_key(dep) {
                    parent.insert(dep, id);
                    order.push(dep);
                    queue.push_back(dep);
                }
            }
        }
        order
            .into_iter()
            .map(|id| {
                let mut path = vec![self.names[id].clone()];
                let mut current = id;
                while let Some(&up) = parent.get(current) {
                    path.push(self.names[up].clone());
                    current = up;
                }
                path.reverse();
                path
            })
            .collect()
    }

    /// One message per package `crate_name` reaches that `forbidden` rejects, naming the path.
    fn violations(&self, crate_name: &str, rule: &str, forbidden: impl Fn(&str) -> bool) -> Vec<String> {
        self.reachable_from(crate_name)
            .into_iter()
            .filter(|path| forbidden(path.last().expect("a path is never empty")))
            .map(|path| {
                format!(
                    "{crate_name} must not depend on {} ({rule}), but it does through {}",
                    path.last().expect("a path is never empty"),
                    path.join(" → ")
                )
            })
            .collect()
    }
}

/// `sqlx` also covers `sqlx-core`, `tower` covers `tower-http`, `tokio` covers `tokio-util`…
fn in_family(name: &str, families: &[&str]) -> bool {
    families
        .iter()
        .any(|family| name == *family || name.strip_prefix(family).is_some_and(|rest| rest.starts_with('-')))
}

fn workspace_crates() -> BTreeSet<&'static str> {
    LAYERS.iter().map(|(name, _)| *name).collect()
}

fn allowed_workspace_deps(crate_name: &str) -> &'static [&'static str] {
    LAYERS.iter().find(|(name, _)| *name == crate_name).map(|(_, allowed)| *allowed).unwrap_or(&[])
}

/// The resolved graph under each feature selection, read once per test process.
fn graphs() -> &'static [(&'static str, Graph)] {
    static GRAPHS: OnceLock<Vec<(&'static str, Graph)>> = OnceLock::new();
    GRAPHS.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let read = |all_features: bool| {
            let mut command = MetadataCommand::new();
            command.manifest_path(&manifest);
            if all_features {
                command.features(CargoOpt::AllFeatures);
            }
            let metadata = command.exec().unwrap_or_else(|error| panic!("cargo metadata failed: {error}"));
            Graph::from_metadata(&metadata)
        };
        vec![("default features", read(false)), ("all features", read(true))]
    })
}

/// Applies one rule to `crate_name` under every feature selection and fails with every path.
fn assert_no_violations(crate_name: &str, rule: &str, forbidden: impl Fn(&str) -> bool) {
    // Violation → the feature selections under which it occurs.
    let mut problems: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (features, graph) in graphs() {
        assert!(
            graph.members.contains_key(crate_name),
            "{crate_name} is not a workspace member any more; update the rules in {}",
            file!()
        );
        for violation in graph.violations(crate_name, rule, &forbidden) {
            problems.entry(violation).or_default().push(features);
        }
    }
    let report: Vec<String> = problems
        .iter()
        .map(|(violation, features)| format!("{violation} [with {}]", features.join(", ")))
        .collect();
    assert!(report.is_empty(), "dependency direction violated:\n  {}", report.join("\n  "));
}

fn is_other_workspace_crate_than_allowed(crate_name: &str) -> impl Fn(&str) -> bool + '_ {
    move |dep: &str| workspace_crates().contains(dep) && !allowed_workspace_deps(crate_name).contains(&dep)
}

#[test]
fn every_workspace_crate_has_a_place_in_the_hexagon() {
    for (features, graph) in graphs() {
        let members: BTreeSet<&str> = graph.members.keys().map(String::as_str).collect();
        assert_eq!(
            members,
            workspace_crates(),
            "[{features}] the workspace members and the layers in {} differ; give every crate a layer",
            file!()
        );
    }
}

#[test]
fn domain_depends_on_no_async_runtime_or_driver() {
    assert_no_violations(DOMAIN, "the domain is pure: no runtime, no I/O", |dep| {
        in_family(dep, FORBIDDEN_IN_DOMAIN)
    });
}

#[test]
fn domain_depends_on_no_other_workspace_crate() {
    assert_no_violations(
        DOMAIN,
        "the domain is the centre of the hexagon",
        is_other_workspace_crate_than_allowed(DOMAIN),
    );
}

#[test]
fn application_depends_on_no_adapter_and_not_on_bootstrap() {
    assert_no_violations(
        APPLICATION,
        "the application core sees only the domain and its own ports",
        is_other_workspace_crate_than_allowed(APPLICATION),
    );
}

#[test]
fn application_depends_on_no_driver() {
    assert_no_violations(APPLICATION, "drivers belong in adapters behind ports", |dep| {
        in_family(dep, DRIVERS)
    });
}

#[test]
fn driving_adapters_depend_on_neither_the_driven_adapters_nor_bootstrap() {
    assert_no_violations(
        ADAPTER_IN,
        "adapters meet only through the application's ports",
        is_other_workspace_crate_than_allowed(ADAPTER_IN),
    );
}

#[test]
fn driven_adapters_depend_on_neither_the_driving_adapters_nor_bootstrap() {
    assert_no_violations(
        ADAPTER_OUT,
        "adapters meet only through the application's ports",
        is_other_workspace_crate_than_allowed(ADAPTER_OUT),
    );
}

#[test]
fn bootstrap_may_depend_on_every_layer_but_not_on_the_tests() {
    assert_no_violations(
        BOOTSTRAP,
        "test code never ships",
        is_other_workspace_crate_than_allowed(BOOTSTRAP),
    );
}

#[test]
fn only_bootstrap_depends_on_opentelemetry() {
    for crate_name in [DOMAIN, APPLICATION, ADAPTER_IN, ADAPTER_OUT] {
        assert_no_violations(crate_name, "trace export is wired in bootstrap (ADR 0026)", |dep| {
            in_family(dep, TRACE_EXPORT)
        });
    }
}

// The checks above pass on a clean workspace; these prove they can fail, on a hand-made graph.

fn graph_of(members: &[&str], edges: &[(&str, &str)]) -> Graph {
    let mut graph = Graph::default();
    for (from, to) in edges {
        for name in [from, to] {
            graph.names.insert(format!("id:{name}"), (*name).to_owned());
        }
        graph.edges.entry(format!("id:{from}")).or_default().push(format!("id:{to}"));
    }
    for name in members {
        graph.names.insert(format!("id:{name}"), (*name).to_owned());
        graph.members.insert((*name).to_owned(), format!("id:{name}"));
    }
    graph
}

#[test]
fn a_forbidden_crate_reached_transitively_is_reported_with_its_path() {
    let graph = graph_of(
        &[DOMAIN],
        &[
            (DOMAIN, "chrono"),
            (DOMAIN, "some-helper"),
            ("some-helper", "tokio-util"),
            ("tokio-util", "tokio"),
        ],
    );
    let violations = graph.violations(DOMAIN, "pure", |dep| in_family(dep, FORBIDDEN_IN_DOMAIN));
    assert_eq!(
        violations,
        [
            "hub-domain must not depend on tokio-util (pure), but it does through hub-domain → some-helper → tokio-util",
            "hub-domain must not depend on tokio (pure), but it does through hub-domain → some-helper → tokio-util → tokio",
        ]
    );
}

#[test]
fn an_adapter_depending_on_another_adapter_is_reported() {
    let graph = graph_of(&[ADAPTER_IN, ADAPTER_OUT], &[(ADAPTER_IN, APPLICATION), (ADAPTER_IN, ADAPTER_OUT)]);
    let violations = graph.violations(ADAPTER_IN, "ports", is_other_workspace_crate_than_allowed(ADAPTER_IN));
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].ends_with("hub-adapter-in → hub-adapter-out"), "{}", violations[0]);
}

#[test]
fn dependency_cycles_do_not_hang_the_walk() {
    let graph = graph_of(&[DOMAIN], &[(DOMAIN, "a"), ("a", "b"), ("b", "a"), ("b", DOMAIN)]);
    let names: Vec<String> = graph.reachable_from(DOMAIN).into_iter().map(|path| path.join(" → ")).collect();
    assert_eq!(names, ["hub-domain → a", "hub-domain → a → b"]);
}

#[test]
fn crate_families_match_whole_name_segments_only() {
    assert!(in_family("sqlx-core", DRIVERS));
    assert!(in_family("tower", DRIVERS));
    assert!(!in_family("towers", DRIVERS));
    assert!(!in_family("hyperlocal", DRIVERS));
    assert!(!in_family("tokio", DRIVERS));
}
